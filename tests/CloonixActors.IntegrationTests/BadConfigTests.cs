using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// A broken configuration file or a bad flag value stops cloonixd before anything starts: one line on
/// stderr, exit 2, no stack trace, nothing made in the state dir but what it holds already.
/// </summary>
[Collection("dataplane")]
public sealed class BadConfigTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cloonix-it", "cfg" + Guid.NewGuid().ToString("N")[..8]);

    public BadConfigTests() => Directory.CreateDirectory(_dir);

    public static TheoryData<string, string> BrokenFiles => new()
    {
        { "akka { loglevel = INFO\n", "never closed" },
        { "akka.remote { x = [1,\n", "never closed" },
        { "cloonix { vxlan { port = 4789 }\n}}\n", "closes nothing" },
        { "cloonix.host-name = \"unterminated\n", "not closed" },
        { "cloonix.command-timeout = banana\n", "cloonix.command-timeout" },
        { "cloonix.snapshot-every = abc\n", "cloonix.snapshot-every" },
        { "akka.remote.dot-netty.tcp.maximum-frame-size = 4XB\n", "maximum-frame-size" },
        { "cloonix.vxlan.port = 99999\n", "cloonix.vxlan.port" },
        { "cloonix.dpdk = maybe\n", "cloonix.dpdk" },
        { "akka.loglevel = LOUD\n", "akka.loglevel" },
        { "a = ${nope}\n", "nope" },
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void A_broken_config_file_is_one_line_and_exit_2(string hocon, string expected)
    {
        var file = Path.Combine(_dir, "broken.conf");
        File.WriteAllText(file, hocon);

        var r = Daemon("--config", file);

        AssertOneLine(r, expected);
        Assert.False(Directory.Exists(Path.Combine(_dir, "state", "ovs")), "the daemon started its switch");
    }

    [Fact]
    public void A_bind_address_that_is_not_this_machines_or_a_port_in_use_is_one_line_and_exit_2()
    {
        AssertOneLine(Daemon("--bind", "198.18.255.254:45300"), "cannot listen");
        AssertOneLine(Daemon("--bind", "nohost.invalid:45300"), "cannot resolve");
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        AssertOneLine(Daemon("--bind", $"127.0.0.1:{port}"), "in use");
    }

    [Theory]
    [InlineData("--bind", "127.0.0.1", "ADDR:PORT")]
    [InlineData("--bind", "127.0.0.1:0", "ADDR:PORT")]
    [InlineData("--persistence", "mongodb", "sqlite or postgresql")]
    [InlineData("--name", "Bad/Name", "invalid")]
    [InlineData("--seed", "nowhere", "ADDR:PORT")]
    [InlineData("--config", "/no/such/file.conf", "does not exist")]
    public void A_bad_flag_value_is_one_line_and_exit_2(string flag, string value, string expected) =>
        AssertOneLine(Daemon(flag, value), expected);

    [Theory]
    [InlineData("--contact", "nowhere", "ADDR:PORT")]
    [InlineData("--timeout", "soon", "soon")]
    [InlineData("--tls-dir", "/no/such/dir", "ca.crt")]
    public void A_bad_client_flag_value_is_one_line_and_exit_2(string flag, string value, string expected)
    {
        File.WriteAllText(Path.Combine(_dir, "secret"), "0123456789abcdef0123456789abcdef\n");

        var r = Lab.Run(Lab.CliPath, ["--state-dir", _dir, flag, value, "ls"]);

        AssertOneLine(r, expected, "cloonix: ");
    }

    private static void AssertOneLine(CliResult r, string expected, string prefix = "cloonixd: ")
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(prefix, line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }

    /// <summary>cloonixd with a state dir of this test's own; SIGTERM after 30 s should it start after all.</summary>
    private CliResult Daemon(params string[] args)
    {
        var psi = new ProcessStartInfo(Lab.DaemonPath) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        string[] defaults = args.Contains("--name") ? ["--state-dir", Path.Combine(_dir, "state")] : ["--state-dir", Path.Combine(_dir, "state"), "--name", "badcfg"];
        foreach (var a in defaults.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            Lab.Run("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            p.WaitForExit(TimeSpan.FromSeconds(60));
        }

        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
