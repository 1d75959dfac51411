using System.Diagnostics;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.Relay.Capture;
using CloonixActors.Relay.Engine;
using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Relay.Tests.Engine;

/// <summary>
/// Two tiny TCG guests joined only by the relay: guest 1's nic on the node side, guest 2's on the lan side.
/// Everything they exchange crosses the C# relay: pings pass, counters move, and a capture taken while
/// they talk is read back by tshark with as many frames as the capture says it wrote.
/// </summary>
public sealed class RelayEngineTests : IDisposable
{
    private const string Kernel = "/var/lib/cloonix/images/tiny/vmlinuz";
    private const string Initrd = "/var/lib/cloonix/images/tiny/initrd.img";
    private readonly string _dir = Directory.CreateTempSubdirectory("cloonix-relay-").FullName;
    private readonly List<Process> _qemus = [];

    public void Dispose()
    {
        foreach (var q in _qemus)
        {
            if (!q.HasExited)
            {
                q.Kill();
                q.WaitForExit();
            }

            q.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private Process Boot(string name, string socket, int id)
    {
        var launch = new VmLaunch(
            name,
            256,
            1,
            new VmBoot(Kernel, Initrd, null),
            [new VmNic(0, QemuCommandLine.Mac(id, 0), new VmNetdev.VhostUserClient(socket))],
            new Acceleration(AccelKind.Tcg, "test"),
            Path.Combine(_dir, name + ".qmp"),
            Path.Combine(_dir, name + ".agent"),
            Path.Combine(_dir, name + ".console"),
            VhostNet: false);
        var psi = new ProcessStartInfo(QemuCommandLine.Binary) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in QemuCommandLine.Build(launch))
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, _) => { };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        _qemus.Add(p);
        return p;
    }

    private async Task<int> Exec(string name, params string[] argv) =>
        (await GuestAgent.ExecAsync(Path.Combine(_dir, name + ".agent"), argv, TimeSpan.FromSeconds(20))).ExitCode;

    private async Task WaitForAgent(string name)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await Exec(name, "true") == 0)
                {
                    return;
                }
            }
            catch (CloonixActors.DataPlane.DataPlaneException) when (deadline.Elapsed < TimeSpan.FromSeconds(90))
            {
                await Task.Delay(200);
            }
        }
    }

    [Fact]
    public async Task Two_guests_talk_through_the_relay_which_counts_and_captures_their_frames()
    {
        var nodeSocket = Path.Combine(_dir, "node.sock");
        var lanSocket = Path.Combine(_dir, "lan.sock");
        using var relay = new RelayEngine(
            new VhostUserBackendOptions { SocketPath = nodeSocket, Name = "node" },
            new VhostUserBackendOptions { SocketPath = lanSocket, Name = "lan" });
        relay.Start();
        Boot("g1", nodeSocket, 1);
        Boot("g2", lanSocket, 2);
        await WaitForAgent("g1");
        await WaitForAgent("g2");
        Assert.Equal(0, await Exec("g1", "ip", "addr", "add", "198.18.30.1/24", "dev", "eth0"));
        Assert.Equal(0, await Exec("g2", "ip", "addr", "add", "198.18.30.2/24", "dev", "eth0"));

        Assert.Equal(0, await Exec("g1", "ping", "-c", "3", "-W", "5", "198.18.30.2"));
        var before = relay.Counters.Snapshot();
        Assert.True(before.PacketsOut >= 3 && before.PacketsIn >= 3, $"counters did not move: {before}");

        var pcap = Path.Combine(_dir, "spy.pcap");
        var sink = new PcapSink(File.Create(pcap));
        relay.Capture = sink;
        Assert.Equal(0, await Exec("g1", "ping", "-c", "5", "-i", "0.2", "198.18.30.2"));
        relay.Capture = null;
        await sink.DisposeAsync();
        var after = relay.Counters.Snapshot();

        var tshark = Process.Start(new ProcessStartInfo("tshark", ["-r", pcap, "-Y", "icmp"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var icmp = (await tshark.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        await tshark.WaitForExitAsync();
        var all = Process.Start(new ProcessStartInfo("tshark", ["-r", pcap]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var frames = (await all.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        await all.WaitForExitAsync();

        Assert.Equal(0, tshark.ExitCode);
        Assert.True(icmp >= 10, $"the capture holds {icmp} ICMP frames, expected the 5 requests and 5 replies");
        Assert.Equal(sink.Written, frames);
        Assert.Equal(0, sink.Dropped);
        Assert.True(after.PacketsOut - before.PacketsOut >= 5 && after.PacketsIn - before.PacketsIn >= 5);
    }
}
