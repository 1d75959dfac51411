using System.Globalization;
using System.Text.Json;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// s nics end to end: a TCG guest whose nic passes the C# relay to a tap on the lan bridge, with a
/// container on the same lan. Captures read back by tshark, live counters, impairments measured with
/// ping and iperf3, and the relay and QEMU failing under traffic.
/// </summary>
[Collection("dataplane")]
public sealed class SpyTests : IDisposable
{
    private readonly Lab _lab = new Lab("cloonix.fault-injection = on").Start();
    private readonly string _dir = Directory.CreateTempSubdirectory("cloonix-spy-").FullName;

    public void Dispose()
    {
        _lab.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>vm1 (one s nic, 198.18.50.1) and c1 (198.18.50.2) on lan1, reaching each other.</summary>
    private void VmAndContainer()
    {
        _lab.Ok("add", "lan", "lan1");
        _lab.Ok("add", "vm", "vm1", "--nics", "s");
        _lab.Ok("add", "cnt", "c1");
        _lab.Ok("connect", "vm1", "0", "lan1");
        _lab.Ok("connect", "c1", "0", "lan1");
        Assert.Equal(0, _lab.Exec("vm1", "ip", "addr", "add", "198.18.50.1/24", "dev", "eth0").ExitCode);
        Assert.Equal(0, _lab.Exec("c1", "ip", "addr", "add", "198.18.50.2/24", "dev", "eth0").ExitCode);
        _lab.WaitForPing("c1", "198.18.50.1");
    }

    private static int Tshark(string pcap, string? filter = null)
    {
        var r = Lab.Run("tshark", filter is null ? ["-r", pcap] : ["-r", pcap, "-Y", filter]);
        Assert.True(r.ExitCode == 0, $"tshark could not read {pcap}: {r}");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    private static JsonElement Summary(CliStream spy)
    {
        var line = spy.Stderr.Split('\n').Last(l => l.TrimStart().StartsWith('{'));
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>
    /// Captures a nic to a file while c1 pings <paramref name="target"/>; checks tshark reads as many frames
    /// as the summary says were written, the requests and replies among them. Returns the summary.
    /// </summary>
    private JsonElement CaptureWhilePinging(string node, int nic, string target, int pings)
    {
        var pcap = Path.Combine(_dir, $"{node}-{nic}.pcap");
        using var spy = _lab.StartCli(Path.Combine(_dir, "spy.out"), "spy", node, nic.ToString(CultureInfo.InvariantCulture), "--pcap", pcap, "--json");
        spy.WaitForStderr("capturing");
        Assert.True(_lab.Ping("c1", target, count: pings));
        Assert.Equal(0, spy.Stop());
        var summary = Summary(spy);
        Assert.Equal(summary.GetProperty("frames").GetInt64(), Tshark(pcap));
        Assert.True(Tshark(pcap, "icmp") >= 2 * pings, $"the {pings} requests and replies are in the capture");
        return summary;
    }

    /// <summary>Average ping RTT in ms from c1 to vm1.</summary>
    private double Rtt(int count = 5)
    {
        var r = _lab.Exec("c1", "ping", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.2", "-W", "2", "198.18.50.1");
        var line = r.Stdout.Split('\n').Single(l => l.Contains("min/avg/max", StringComparison.Ordinal));
        return double.Parse(line.Split('=')[1].Trim().Split('/')[1], CultureInfo.InvariantCulture);
    }

    [Fact]
    public void An_s_nic_carries_tcp_with_offloads_and_its_capture_matches_the_relay_counters()
    {
        VmAndContainer();
        using var ls = _lab.Json("ls");
        var nic = ls.RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("name").GetString() == "vm1").GetProperty("nics")[0];
        Assert.Equal("s", nic.GetProperty("kind").GetString());
        Assert.Contains(nic.GetProperty("hostInterface").GetString()!, _lab.Vsctl("list-ports", _lab.BridgeOf("lan1")));

        // TCP both ways: GSO frames and partial checksums cross the relay and the tap.
        Assert.True(_lab.Iperf("c1", "vm1", "198.18.50.1") > 10e6);
        Assert.True(_lab.Iperf("vm1", "c1", "198.18.50.2") > 10e6);

        // A capture to a file, started and stopped while the lab runs.
        var summary = CaptureWhilePinging("vm1", 0, "198.18.50.1", 5);
        Assert.Equal(summary.GetProperty("counted").GetInt64(), summary.GetProperty("frames").GetInt64() + summary.GetProperty("dropped").GetInt64());

        // The same stream on standard output, as `cloonix spy vm1 0 --pcap - | wireshark -k -i -` reads it.
        var piped = Path.Combine(_dir, "piped.pcap");
        using (var spy = _lab.StartCli(piped, "spy", "vm1", "0", "--pcap", "-", "--json"))
        {
            spy.WaitForStderr("capturing");
            Assert.True(_lab.Ping("c1", "198.18.50.1", count: 3));
            Assert.Equal(0, spy.Stop());
            Assert.Equal(Summary(spy).GetProperty("frames").GetInt64(), Tshark(piped));
            Assert.True(Tshark(piped, "icmp") >= 6);
        }

        // The live counters ("blinking"), as JSON lines.
        var events = _lab.Cli("events", "--count", "2", "--json");
        Assert.Equal(0, events.ExitCode);
        var lines = events.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var traffic = JsonDocument.Parse(lines[^1]);
        Assert.Equal("vm1", traffic.RootElement.GetProperty("node").GetString());
        Assert.True(traffic.RootElement.GetProperty("packetsIn").GetInt64() >= 8);
        Assert.True(traffic.RootElement.GetProperty("bytesOut").GetInt64() > 1_000_000);

        // Only s nics have a relay; a spy needs somewhere to write.
        var notSpyable = _lab.Cli("spy", "c1", "0", "--pcap", Path.Combine(_dir, "x.pcap"));
        Assert.Equal(1, notSpyable.ExitCode);
        Assert.Contains("only s (spyable) nics", notSpyable.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, _lab.Cli("spy", "vm1", "0").ExitCode);
        Assert.Equal(1, _lab.Cli("spy", "vm1", "3", "--pcap", "-").ExitCode);
    }

    [Fact]
    public void Impairments_on_an_s_nic_add_delay_lose_frames_cap_the_rate_and_survive_a_daemon_crash()
    {
        VmAndContainer();
        var baseline = Rtt();

        _lab.Ok("impair", "vm1", "0", "--delay", "40", "--dir", "in");
        var delayed = Rtt();
        Assert.True(delayed - baseline is > 35 and < 80, $"RTT went from {baseline} to {delayed} ms with 40 ms of delay");

        _lab.Ok("impair", "vm1", "0", "--loss", "30", "--dir", "out");
        var r = _lab.Exec("c1", "ping", "-c", "200", "-i", "0.01", "-W", "1", "-q", "198.18.50.1");
        var lossLine = r.Stdout.Split('\n').Single(l => l.Contains("packet loss", StringComparison.Ordinal));
        var loss = double.Parse(lossLine.Split(',')[2].Trim().Split('%')[0], CultureInfo.InvariantCulture);
        Assert.True(loss is > 15 and < 45, $"{loss} % of pings lost with 30 % loss on the replies");

        _lab.Ok("impair", "vm1", "0", "--rate", "20");
        var capped = _lab.Iperf("c1", "vm1", "198.18.50.1", seconds: 6) / 1e6;
        Assert.True(capped is > 18 and < 22, $"iperf3 measured {capped:0.0} Mbit/s under a 20 Mbit/s cap");

        var bad = _lab.Cli("impair", "vm1", "0", "--jitter", "5");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("jitter", bad.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, _lab.Cli("impair", "c1", "0", "--delay", "5").ExitCode);
        Assert.Equal(1, _lab.Cli("impair", "vm1", "0", "--dir", "up").ExitCode);

        // The impairment is desired state: a crashed daemon brings it back.
        _lab.Ok("impair", "vm1", "0", "--delay", "40", "--dir", "both");
        _lab.KillDaemon();
        _lab.Start();
        Assert.Contains("both: delay 40 ms", _lab.Ok("ls"), StringComparison.Ordinal);
        Lab.WaitUntil(() => _lab.Ping("c1", "198.18.50.1"), TimeSpan.FromSeconds(60), "ping after the restart");
        Assert.True(Rtt() - baseline > 70, "delay on both directions after the restart");

        _lab.Ok("impair", "vm1", "0");
        Assert.DoesNotContain("delay", _lab.Ok("ls"), StringComparison.Ordinal);
        Assert.True(Rtt() - baseline < 30);
    }

    [Fact]
    public void A_failed_relay_thread_and_a_killed_qemu_are_repaired_and_traffic_and_the_capture_resume()
    {
        VmAndContainer();
        var pcap = Path.Combine(_dir, "faults.pcap");
        using var spy = _lab.StartCli(Path.Combine(_dir, "spy.out"), "spy", "vm1", "0", "--pcap", pcap, "--json");
        spy.WaitForStderr("capturing");

        _lab.Ok("debug", "fail-relay", "vm1", "0");
        Lab.WaitUntil(() => _lab.Ping("c1", "198.18.50.1"), TimeSpan.FromSeconds(60), "ping after the relay failed");
        Assert.Contains("relay thread failed", _lab.DaemonLog, StringComparison.Ordinal);
        using (var after = JsonDocument.Parse(_lab.Ok("events", "--count", "1", "--json")))
        {
            Assert.True(after.RootElement.GetProperty("relayRestarts").GetInt32() >= 1);
        }

        var qemu = int.Parse(File.ReadAllText(Path.Combine(_lab.StateDir, "vms", "vm1", "qemu.pid")).Trim(), CultureInfo.InvariantCulture);
        Lab.Run("kill", ["-KILL", qemu.ToString(CultureInfo.InvariantCulture)]);
        Lab.WaitUntil(() => _lab.Exec("vm1", "true").ExitCode == 0, TimeSpan.FromSeconds(90), "the relaunched guest's agent");
        Assert.Equal(0, _lab.Exec("vm1", "ip", "addr", "add", "198.18.50.1/24", "dev", "eth0").ExitCode);
        Lab.WaitUntil(() => _lab.Ping("c1", "198.18.50.1"), TimeSpan.FromSeconds(60), "ping after QEMU was relaunched");
        Assert.True(_lab.Ping("c1", "198.18.50.1", count: 3));

        Assert.Equal(0, spy.Stop());
        var frames = Summary(spy).GetProperty("frames").GetInt64();
        Assert.Equal(frames, Tshark(pcap));
        Assert.True(Tshark(pcap, "icmp") >= 6, "the capture went on through both repairs");
    }

    [Fact]
    public void A_container_s_nic_is_a_tap_inside_joined_by_the_relay_and_keeps_its_address_when_the_relay_fails()
    {
        _lab.Ok("add", "lan", "lan1");
        _lab.Ok("add", "cnt", "c1");
        _lab.Ok("add", "cnt", "c2", "--nics", "v,s");
        _lab.Ok("connect", "c1", "0", "lan1");
        _lab.Ok("connect", "c2", "1", "lan1");
        Assert.Equal(0, _lab.Exec("c1", "ip", "addr", "add", "198.18.51.1/24", "dev", "eth0").ExitCode);
        Assert.Equal(0, _lab.Exec("c2", "ip", "addr", "add", "198.18.51.2/24", "dev", "eth1").ExitCode);
        Assert.Contains("tun type tap", _lab.Exec("c2", "ip", "-d", "link", "show", "eth1").Stdout, StringComparison.Ordinal);
        _lab.WaitForPing("c1", "198.18.51.2");
        Assert.True(_lab.Iperf("c1", "c2", "198.18.51.2") > 50e6);

        CaptureWhilePinging("c2", 1, "198.18.51.2", 3);

        // The event feed left running, as a user would, ends on SIGTERM as on Ctrl-C: exit 0, every line whole.
        var feed = Path.Combine(_dir, "events.out");
        using (var events = _lab.StartCli(feed, "events", "--json"))
        {
            Lab.WaitUntil(() => File.ReadAllText(feed).Contains("\"node\":\"c2\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "a first event of c2");
            Assert.Equal(0, events.Stop());
            Assert.All(File.ReadAllLines(feed), l => JsonDocument.Parse(l).Dispose());
        }

        _lab.Ok("impair", "c2", "1", "--delay", "30", "--dir", "out");
        var r = _lab.Exec("c1", "ping", "-c", "3", "-i", "0.2", "198.18.51.2");
        var avg = double.Parse(r.Stdout.Split('\n').Single(l => l.Contains("min/avg/max", StringComparison.Ordinal)).Split('=')[1].Trim().Split('/')[1], CultureInfo.InvariantCulture);
        Assert.True(avg > 29, $"RTT {avg} ms with 30 ms of delay");
        _lab.Ok("impair", "c2", "1");

        _lab.Ok("debug", "fail-relay", "c2", "1");
        Lab.WaitUntil(() => _lab.Ping("c1", "198.18.51.2"), TimeSpan.FromSeconds(30), "ping after the relay failed");
        Assert.Contains("198.18.51.2", _lab.Exec("c2", "ip", "addr", "show", "dev", "eth1").Stdout, StringComparison.Ordinal);
    }
}
