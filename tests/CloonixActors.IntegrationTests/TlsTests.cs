using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Remote.Transport.DotNetty;
using CloonixActors.Host.Security;
using CloonixActors.Protocol;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// The remoting port of a real cloonixd (TLS on, as by default) against programs that are not the
/// cluster's: a foreign Akka.NET program on plain TCP, one with TLS and a certificate of another
/// authority, one with TLS and no certificate, and raw garbage. None gets a reply or makes the daemon do
/// anything, and the daemon stays up. The same probe with a certificate of the cluster's authority gets its
/// reply, so the probe itself works.
/// </summary>
[Collection("dataplane")]
public sealed class TlsTests(TlsTests.OneContainerLab fixture) : IClassFixture<TlsTests.OneContainerLab>
{
    private static readonly TimeSpan NoReplyWithin = TimeSpan.FromSeconds(8);
    private readonly Lab _lab = fixture.Lab;

    public sealed class OneContainerLab : IDisposable
    {
        public OneContainerLab()
        {
            Lab = new Lab().Start();
            Lab.Ok("add", "cnt", "c1", "--nics", "1");
        }

        public Lab Lab { get; }

        public void Dispose() => Lab.Dispose();
    }

    public enum Foreign
    {
        /// <summary>Plain TCP, no certificate: the program of issue 9.</summary>
        PlainTcp,

        /// <summary>TLS with a certificate of another authority (named like a member), accepting any server.</summary>
        OtherAuthority,

        /// <summary>TLS, presenting no certificate at all.</summary>
        NoCertificate,
    }

    [Theory]
    [InlineData(Foreign.PlainTcp)]
    [InlineData(Foreign.OtherAuthority)]
    [InlineData(Foreign.NoCertificate)]
    public async Task A_program_without_a_certificate_of_the_cluster_gets_nothing_and_changes_nothing(Foreign kind)
    {
        var marker = Path.Combine(Path.GetTempPath(), $"cxa-tls-probe-{Guid.NewGuid():N}");
        var refusalsBefore = Refusals();
        var system = ActorSystem.Create("probe", ForeignSetup(kind));
        try
        {
            var scheme = kind == Foreign.PlainTcp ? "akka.tcp" : "akka.ssl.tcp";
            var root = $"{scheme}://cloonix@127.0.0.1:{_lab.Port}";
            var exec = new ExecInNode("c1", ["touch", marker], 5);
            var asks = new[]
            {
                Ask(system, $"{root}/user/host", exec),
                Ask(system, $"{root}/user/host/agent", exec),
                Ask(system, $"{root}/user/api", new ClientRequest(string.Empty, exec)),
                Ask(system, $"{root}/user/api", new ClientRequest(SecretOfTheLab(), exec)),
            };

            foreach (var reply in await Task.WhenAll(asks))
            {
                Assert.Null(reply);
            }
        }
        finally
        {
            await system.Terminate();
        }

        Assert.False(File.Exists(marker), "the daemon ran the foreign program's exec");
        Lab.WaitUntil(() => Refusals() > refusalsBefore, TimeSpan.FromSeconds(10), "the daemon to log the refused connection");
        Assert.Equal(0, _lab.Cli("status").ExitCode);
        // The same exec from the real client does touch the file: the probe would have seen it.
        Assert.Equal(0, _lab.Exec("c1", "touch", marker).ExitCode);
        Assert.True(File.Exists(marker));
        File.Delete(marker);
    }

    [Fact]
    public async Task The_same_probe_with_a_certificate_of_the_cluster_gets_its_reply()
    {
        var issued = Path.Combine(_lab.StateDir, "probe-tls");
        var r = Lab.Run(Lab.CliPath, ["--tls-dir", _lab.TlsDir, "cert", "issue", "probe", "--client", "--out", issued]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var identity = ClusterCertificates.Load(issued, ClusterCertificates.ClientRole);
        var system = ActorSystem.Create("probe", BaseSetup(tls: true).And(ClusterCertificates.SslSetup(identity)));
        try
        {
            var reply = await Ask(system, $"akka.ssl.tcp://cloonix@127.0.0.1:{_lab.Port}/user/api", new ClientRequest(SecretOfTheLab(), new ListTopology()));

            var listing = Assert.IsType<TopologyListing>(reply);
            Assert.Contains(listing.Nodes, n => n.Name == "c1");
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task Garbage_and_a_truncated_tls_hello_on_the_port_leave_the_daemon_up()
    {
        var garbage = RandomNumberGenerator.GetBytes(256 * 1024);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync("127.0.0.1", _lab.Port);
            try
            {
                await client.GetStream().WriteAsync(garbage);
            }
            catch (IOException)
            {
                // The daemon may close the connection before all of it is written: that is the point.
            }
        }

        // A TLS record header announcing a 16 KiB ClientHello, and only its first bytes, left hanging open.
        using var hanging = new TcpClient();
        await hanging.ConnectAsync("127.0.0.1", _lab.Port);
        await hanging.GetStream().WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc, 0x03, 0x03 });

        // An Akka frame header claiming 2 GiB, in clear.
        using (var huge = new TcpClient())
        {
            await huge.ConnectAsync("127.0.0.1", _lab.Port);
            await huge.GetStream().WriteAsync(new byte[] { 0xff, 0xff, 0xff, 0x7f, 0x01, 0x02 });
        }

        Assert.Equal(0, _lab.Cli("status").ExitCode);
        Assert.Equal(0, _lab.Exec("c1", "true").ExitCode);
        Assert.True(Lab.IsRunning(_lab.DaemonPid));
    }

    [Fact]
    public void The_client_without_its_certificate_is_one_clear_error()
    {
        var empty = Path.Combine(_lab.StateDir, "no-tls");
        Directory.CreateDirectory(empty);

        var r = Lab.Run(Lab.CliPath, ["--contact", _lab.Endpoint, "--state-dir", _lab.StateDir, "--tls-dir", empty, "ls"]);

        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("ca.crt", line, StringComparison.Ordinal);
    }

    [Fact]
    public void The_daemon_made_its_certificates_on_its_first_start_readable_by_root_only()
    {
        foreach (var file in new[] { "ca.crt", "ca.key", "host.crt", "host.key", "client.crt", "client.key" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_lab.TlsDir, file)));
        }

        Assert.Contains("akka.ssl.tcp://", _lab.DaemonLog, StringComparison.Ordinal);
    }

    private static async Task<object?> Ask(ActorSystem system, string path, object message)
    {
        try
        {
            return await system.ActorSelection(path).Ask<object>(message, NoReplyWithin);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    /// <summary>How many incoming connections the daemon refused so far (Akka's line for a failed handshake).</summary>
    private int Refusals() => _lab.DaemonLog.Split('\n').Count(l => l.Contains("due to TLS handshake failure", StringComparison.Ordinal) || l.Contains("refused a TLS peer", StringComparison.Ordinal));

    private string SecretOfTheLab() => File.ReadAllText(Path.Combine(_lab.StateDir, "secret")).Trim();

    private static ActorSystemSetup ForeignSetup(Foreign kind)
    {
        if (kind == Foreign.PlainTcp)
        {
            return ActorSystemSetup.Create(BaseSetup(tls: false));
        }

        using var authority = ClusterCertificates.CreateAuthority(kind == Foreign.OtherAuthority ? "cloonix CA" : "nobody");
        var cert = ClusterCertificates.Issue(authority, kind == Foreign.OtherAuthority ? "host1" : "nobody");
        // Accepts any server: only the daemon's check of this program is under test. Without mutual
        // authentication (NoCertificate) the program's connections present no certificate at all.
        return BaseSetup(tls: true).And(new DotNettySslSetup(cert, false, kind == Foreign.OtherAuthority, false, (_, _, _, _, _) => true));
    }

    /// <summary>The project's own serialization settings (hocon/base.conf), remoting on loopback, as a foreign program would copy them.</summary>
    private static BootstrapSetup BaseSetup(bool tls)
    {
        RemotingWorkarounds.PinDotNettyMachineId();
        var baseConf = File.ReadAllText(Path.Combine(Path.GetDirectoryName(Lab.DaemonPath)!, "hocon", "base.conf"));
        var config = ConfigurationFactory.ParseString($$"""
            akka.loglevel = OFF
            akka.stdout-loglevel = OFF
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp {
              hostname = "127.0.0.1"
              port = 0
              enable-ssl = {{(tls ? "on" : "off")}}
            }
            """).WithFallback(ConfigurationFactory.ParseString(baseConf));
        return BootstrapSetup.Create().WithConfig(config);
    }
}
