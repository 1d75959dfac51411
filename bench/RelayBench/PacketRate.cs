using System.Diagnostics;
using System.Globalization;
using CloonixActors.Relay.Capture;
using CloonixActors.Relay.Engine;
using CloonixActors.Relay.VhostUser;

/// <summary>
/// Issue 4, items 8(a) and 8(c): packets/s and Gbit/s through the relay beside <c>dpdk-testpmd</c> doing io
/// forwarding between the same kind of vhost-user sockets, and the relay's CPU while idle.
/// </summary>
/// <remarks>
/// Two cores: the middle (the relay, or testpmd with two <c>net_vhost</c> servers) has core 1 to itself;
/// the traffic's ends share core 0 in one testpmd with two <c>net_virtio_user</c> ports, one per socket,
/// in flowgen mode: each loop drains what a port received (rxonly) and sends a burst of generated frames
/// (txonly) on the other, so frames cross the middle both ways. Separate txonly and rxonly processes on
/// one core would take turns by scheduler time slices, and a 256-entry ring fills or drains in far less
/// than one: that measures the scheduler, not the middle. The figure is what the ends received, over a
/// window after a warm-up, each middle driven by the same endpoint command; the best of several rounds, with
/// each process's CPU share beside it, since on a shared machine other work takes turns on both cores.
/// Spy on charges the whole capture (the relay's copy, the queue, the writer task) to the middle's core.
/// Idle: the relay process's CPU with both ends connected and quiet, before any traffic and after the ends
/// stopped mid-traffic (then the relay may hold frames for receive rings nobody drains).
/// </remarks>
internal static class PacketRate
{
    private const int MiddleCore = 1;
    private const int EndsCore = 0;
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(2);

    private const string Baseline = "dpdk-testpmd io (net_vhost both sides)";
    private const string SpyOff = "C# relay, spy off";
    private const string SpyOn = "C# relay, spy on (pcap to /dev/null)";

    /// <param name="Kept">Spy on: the share of relayed frames the capture kept (the rest it dropped, not the lan).</param>
    /// <param name="MiddleCpu">The middle's CPU over the window, percent of a core: under 100 when something else took its core.</param>
    /// <param name="EndsCpu">Likewise for the ends.</param>
    private sealed record Row(int Frame, string Middle, double Mpps, double Gbps, double MiddleCpu, double EndsCpu, double? Kept = null);

    private static double PerCore(Row r) => r.Mpps / Math.Max(r.MiddleCpu, 1) * 100;

    private readonly record struct Rate(double Mpps, double Gbps, double MiddleCpu, double EndsCpu);

    /// <param name="seconds">The measuring window of each figure.</param>
    /// <param name="rounds">Every figure is the best of this many rounds (a shared 2-core machine is noisy).</param>
    /// <param name="frames">Frame sizes as testpmd's --txpkts (the FCS's 4 bytes included).</param>
    public static async Task RunAsync(int seconds, int rounds, IReadOnlyList<int> frames)
    {
        if (!File.Exists(TestPmd.Binary))
        {
            throw new InvalidOperationException($"{TestPmd.Binary} is missing (Debian package dpdk-dev)");
        }

        // The relay's thread (and the rest of this process: capture writer, timers) gets the middle's core.
        Pin(Environment.ProcessId, MiddleCore);
        var window = TimeSpan.FromSeconds(seconds);
        var dir = Directory.CreateTempSubdirectory("relaypps-").FullName;
        var rows = new List<Row>();
        (double Fresh, double Stopped)? idle = null;
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                foreach (var frame in frames)
                {
                    rows.Add(await ThroughTestPmdAsync(dir, frame, window));
                    var (off, on, idleCpu) = await ThroughRelayAsync(dir, frame, window, measureIdle: idle is null);
                    idle ??= idleCpu;
                    rows.Add(off);
                    rows.Add(on);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        Console.WriteLine($"relay packet rate: frames both ways between two net_virtio_user ports of one dpdk-testpmd (flowgen, core {EndsCore})");
        Console.WriteLine($"through the middle (core {MiddleCore}), as received by the ends over {seconds} s after {WarmUp.TotalSeconds:0} s of warm-up;");
        Console.WriteLine($"best of {rounds} rounds (range of packets/s in brackets); {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine($"{"frame",6}  {"middle",-40}{"Mpps",7}{"(range)",15}{"Gbit/s",8}{"CPU% mid/ends",15}{"Mpps/core",11}  note");
        var worst = double.MaxValue;
        var worstPerCore = double.MaxValue;
        foreach (var group in rows.GroupBy(r => (r.Frame, r.Middle)))
        {
            var best = group.MaxBy(r => r.Mpps)!;
            var baseline = rows.Where(r => r.Frame == best.Frame && r.Middle == Baseline).Max(r => r.Mpps);
            var share = best.Mpps / baseline * 100;
            var perCore = PerCore(best);
            var sharePerCore = perCore / PerCore(rows.Where(r => r.Frame == best.Frame && r.Middle == Baseline).MaxBy(r => r.Mpps)!) * 100;
            var note = best.Middle == Baseline ? "baseline" : $"{share:0} % of testpmd ({sharePerCore:0} % per core)";
            if (best.Middle != Baseline)
            {
                worst = Math.Min(worst, share);
                worstPerCore = Math.Min(worstPerCore, sharePerCore);
            }

            if (best.Kept is { } kept)
            {
                note += $"; capture kept {kept:0} % of frames";
            }

            var range = $"({group.Min(r => r.Mpps):0.00}-{group.Max(r => r.Mpps):0.00})";
            var cpu = $"{best.MiddleCpu:0}/{best.EndsCpu:0}";
            Console.WriteLine($"{best.Frame,6}  {best.Middle,-40}{best.Mpps,7:0.00}{range,15}{best.Gbps,8:0.00}{cpu,15}{perCore,11:0.00}  {note}");
        }

        Console.WriteLine($"relay at {worst:0} % of testpmd's packets/s at worst (goal 80 %): {(worst >= 80 ? "met" : "NOT met")}; "
            + $"per core of the middle's CPU time {worstPerCore:0} %");
        if (idle is var (fresh, stopped))
        {
            Console.WriteLine($"relay process CPU while idle, both sides connected, {seconds} s: {fresh:0.00} % of one core before any traffic, "
                + $"{stopped:0.00} % after the ends stopped mid-traffic (goal under 2 %): {(Math.Max(fresh, stopped) < 2 ? "met" : "NOT met")}");
        }

        Console.WriteLine("Gbit/s counts Ethernet frames without FCS, preamble or gap (testpmd's RX-bytes). CPU%: of one core during");
        Console.WriteLine("the best window, the middle's process and the ends' (both poll: under 100 means other work took their core);");
        Console.WriteLine("Mpps/core = Mpps / the middle's CPU share, what a core of its own would carry if the middle is the bottleneck.");
    }

    private static async Task<Row> ThroughTestPmdAsync(string dir, int frame, TimeSpan window)
    {
        var (a, b) = Sockets(dir, "testpmd", frame);
        await using var middle = await TestPmd.StartAsync("middle", MiddleCore,
            [$"net_vhost0,iface={a}", $"net_vhost1,iface={b}"], ["--forward-mode=io", "--total-num-mbufs=8192"], interactive: false);
        await WaitForSocketsAsync(a, b, () => middle.Tail());
        await using var ends = await StartEndsAsync(a, b, frame);
        var r = await MeasureAsync(ends, () => middle.Cpu, window, $"{frame} B through testpmd");
        return new Row(frame, Baseline, r.Mpps, r.Gbps, r.MiddleCpu, r.EndsCpu);
    }

    /// <returns>With <paramref name="measureIdle"/>, the process's CPU while idle (percent of a core): once the
    /// ends have connected, before any traffic; and once they stopped sending and draining mid-traffic (the
    /// relay may then hold frames for full receive rings).</returns>
    private static async Task<(Row Off, Row On, (double Fresh, double Stopped)? IdleCpu)> ThroughRelayAsync(string dir, int frame, TimeSpan window, bool measureIdle)
    {
        var (a, b) = Sockets(dir, "relay", frame);
        // The relay has core 1 to itself here, as testpmd has: let it spin as long as a relay with a core to
        // spare would (cloonix.relay.max-spins = 4000; the daemon's default, 20, suits shared cores).
        using var relay = new RelayEngine(
            new VhostUserBackendOptions { SocketPath = a, Name = "pps node" },
            new VhostUserBackendOptions { SocketPath = b, Name = "pps lan" })
        { MaxSpins = 4000 };
        relay.Start();
        await WaitForSocketsAsync(a, b, () => "");
        var ends = await StartEndsAsync(a, b, frame);
        try
        {
            var fresh = double.NaN;
            if (measureIdle)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                Progress("idle relay CPU, before traffic");
                fresh = await IdleCpu.MeasureAsync(window);
            }

            var r = await MeasureAsync(ends, ProcessCpu, window, $"{frame} B through the relay, spy off");
            var off = new Row(frame, SpyOff, r.Mpps, r.Gbps, r.MiddleCpu, r.EndsCpu);

            // Spy on: every frame offered to a pcap writer whose file is /dev/null (the cost is the relay's copy,
            // the queue and the writer task, not a disk).
            await using var sink = new PcapSink(new FileStream("/dev/null", FileMode.Open, FileAccess.Write));
            var before = relay.Counters.Snapshot();
            relay.Capture = sink;
            r = await MeasureAsync(ends, ProcessCpu, window, $"{frame} B through the relay, spy on");
            relay.Capture = null;
            var after = relay.Counters.Snapshot();
            var offered = after.PacketsIn + after.PacketsOut - before.PacketsIn - before.PacketsOut;
            var on = new Row(frame, SpyOn, r.Mpps, r.Gbps, r.MiddleCpu, r.EndsCpu, (offered - sink.Dropped) * 100.0 / Math.Max(offered, 1));

            if (!measureIdle)
            {
                return (off, on, null);
            }

            await ends.CommandAsync("stop");
            await Task.Delay(TimeSpan.FromSeconds(1)); // past the relay's spin-then-sleep
            Progress("idle relay CPU, after traffic");
            return (off, on, (fresh, await IdleCpu.MeasureAsync(window)));
        }
        finally
        {
            // The ends stop their rings (GET_VRING_BASE) before the relay goes away.
            await ends.DisposeAsync();
        }
    }

    private static (string A, string B) Sockets(string dir, string middle, int frame) =>
        (Path.Combine(dir, $"{middle}-{frame}-a.sock"), Path.Combine(dir, $"{middle}-{frame}-b.sock"));

    private static Task<TestPmd> StartEndsAsync(string a, string b, int frame) =>
        TestPmd.StartAsync("ends", EndsCore,
            [$"net_virtio_user0,path={a}", $"net_virtio_user1,path={b}"],
            ["--forward-mode=flowgen", $"--txpkts={frame}", "--total-num-mbufs=16384"], interactive: true);

    /// <summary>Starts forwarding, lets it settle, then returns what the ends received per second over the window.</summary>
    private static async Task<Rate> MeasureAsync(TestPmd ends, Func<TimeSpan> middleCpu, TimeSpan window, string what)
    {
        await ends.CommandAsync("start");
        await Task.Delay(WarmUp);
        Progress(what);
        var (p0, b0) = await ends.ReceivedAsync();
        var (m0, e0) = (middleCpu(), ends.Cpu);
        var clock = Stopwatch.StartNew();
        await Task.Delay(window);
        var (p1, b1) = await ends.ReceivedAsync();
        var (m1, e1) = (middleCpu(), ends.Cpu);
        var s = clock.Elapsed.TotalSeconds;
        return new Rate((p1 - p0) / s / 1e6, (b1 - b0) * 8 / s / 1e9, (m1 - m0).TotalSeconds / s * 100, (e1 - e0).TotalSeconds / s * 100);
    }

    private static TimeSpan ProcessCpu()
    {
        using var me = Process.GetCurrentProcess();
        return me.TotalProcessorTime;
    }

    /// <summary>On stderr, so that a profiler can be attached to the phase it wants.</summary>
    private static void Progress(string what) =>
        Console.Error.WriteLine($"relaypps: {DateTime.UtcNow:HH:mm:ss} pid {Environment.ProcessId}: measuring {what}");

    private static async Task WaitForSocketsAsync(string a, string b, Func<string> log)
    {
        var clock = Stopwatch.StartNew();
        while (!File.Exists(a) || !File.Exists(b))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"vhost-user sockets {a}, {b} not created:\n{log()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Pins every thread of a process (and the threads they create later) to one core.</summary>
    private static void Pin(int pid, int core)
    {
        var psi = new ProcessStartInfo("taskset", ["-a", "-p", "-c", core.ToString(CultureInfo.InvariantCulture), pid.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
        };
        using var taskset = Process.Start(psi)!;
        _ = taskset.StandardOutput.ReadToEnd();
        taskset.WaitForExit();
        if (taskset.ExitCode != 0)
        {
            throw new InvalidOperationException($"taskset could not pin pid {pid} to core {core}");
        }
    }
}
