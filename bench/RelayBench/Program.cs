using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.Relay.Engine;
using CloonixActors.Relay.VhostUser;

// RelayBench [seconds]: two tiny TCG guests joined by the relay (an s nic's path without OVS), then two
// joined by QEMU's own socket netdev (no relay, no offloads) as the baseline; iperf3 TCP between each pair,
// and the relay process's CPU while idle.
// RelayBench pps [seconds [rounds [frame...]]]: packets/s through the relay beside dpdk-testpmd's io
// forwarding, and the relay's idle CPU (see PacketRate).
if (args is ["pps", ..])
{
    int Arg(int i, int otherwise) => args.Length > i ? int.Parse(args[i], CultureInfo.InvariantCulture) : otherwise;
    var frames = args.Skip(3).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToList();
    await PacketRate.RunAsync(Arg(1, 5), Arg(2, 3), frames.Count > 0 ? frames : [64, 1518]);
    return;
}

var seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
var dir = Directory.CreateTempSubdirectory("cloonix-relaybench-").FullName;
var qemus = new List<Process>();
try
{
    using var relay = new RelayEngine(
        new VhostUserBackendOptions { SocketPath = Path.Combine(dir, "node.sock"), Name = "node" },
        new VhostUserBackendOptions { SocketPath = Path.Combine(dir, "lan.sock"), Name = "lan" });
    relay.Start();
    qemus.Add(Boot("r1", new VmNic(0, QemuCommandLine.Mac(1, 0), new VmNetdev.VhostUserClient(Path.Combine(dir, "node.sock")))));
    qemus.Add(Boot("r2", new VmNic(0, QemuCommandLine.Mac(2, 0), new VmNetdev.VhostUserClient(Path.Combine(dir, "lan.sock")))));
    qemus.Add(Boot("b1", null, "-netdev", "socket,id=n0,listen=127.0.0.1:47311", "-device", "virtio-net-pci,netdev=n0,mac=02:c1:00:00:03:00"));
    await WaitForAgent("b1"); // b2 connects to b1's socket: it must be listening first
    qemus.Add(Boot("b2", null, "-netdev", "socket,id=n0,connect=127.0.0.1:47311", "-device", "virtio-net-pci,netdev=n0,mac=02:c1:00:00:04:00"));
    foreach (var (vm, ip) in new[] { ("r1", "198.18.40.1"), ("r2", "198.18.40.2"), ("b1", "198.18.41.1"), ("b2", "198.18.41.2") })
    {
        await WaitForAgent(vm);
        await Exec(vm, "ip", "addr", "add", ip + "/24", "dev", "eth0");
    }

    var viaRelay = await Iperf("r1", "r2", "198.18.40.2");
    var baseline = await Iperf("b1", "b2", "198.18.41.2");

    // Idle: no guest sends; the relay thread should be asleep on its kick eventfds.
    var idleCpu = await IdleCpu.MeasureAsync(TimeSpan.FromSeconds(seconds));
    var c = relay.Counters.Snapshot();

    Console.WriteLine($"relay benchmark: iperf3 TCP {seconds} s between two TCG guests, {Environment.ProcessorCount} cores");
    Console.WriteLine($"{"path",-44}{"Gbit/s",8}");
    Console.WriteLine($"{"C# relay (vhost-user both sides, offloads kept)",-44}{viaRelay,8:0.00}");
    Console.WriteLine($"{"QEMU -netdev socket (baseline, no offloads)",-44}{baseline,8:0.00}");
    Console.WriteLine($"relay / baseline: {viaRelay / baseline:0.0}x; relay process CPU while idle: {idleCpu:0.0} % of one core");
    Console.WriteLine($"relay counters: out {c.PacketsOut} packets {c.BytesOut} bytes, in {c.PacketsIn} packets {c.BytesIn} bytes, drops {c.Drops}");
}
finally
{
    foreach (var q in qemus)
    {
        if (!q.HasExited)
        {
            q.Kill();
            q.WaitForExit();
        }
    }

    Directory.Delete(dir, recursive: true);
}

Process Boot(string name, VmNic? nic, params string[] extra)
{
    var launch = new VmLaunch(name, 256, 1, new VmBoot("/var/lib/cloonix/images/tiny/vmlinuz", "/var/lib/cloonix/images/tiny/initrd.img", null),
        nic is null ? [] : [nic], new Acceleration(AccelKind.Tcg, "bench"), Path.Combine(dir, name + ".qmp"), Path.Combine(dir, name + ".agent"),
        Path.Combine(dir, name + ".console"), VhostNet: false);
    var psi = new ProcessStartInfo(QemuCommandLine.Binary) { RedirectStandardError = true, RedirectStandardOutput = true };
    foreach (var a in QemuCommandLine.Build(launch).Concat(extra))
    {
        psi.ArgumentList.Add(a);
    }

    var p = Process.Start(psi)!;
    p.ErrorDataReceived += (_, _) => { };
    p.OutputDataReceived += (_, _) => { };
    p.BeginErrorReadLine();
    p.BeginOutputReadLine();
    return p;
}

async Task<ProcessResult> Exec(string vm, params string[] argv)
{
    var r = await GuestAgent.ExecAsync(Path.Combine(dir, vm + ".agent"), argv, TimeSpan.FromSeconds(seconds + 30));
    return r.ExitCode == 0 ? r : throw new InvalidOperationException($"{vm}: {string.Join(' ', argv)}: {r.Stderr}");
}

async Task WaitForAgent(string vm)
{
    var deadline = Stopwatch.StartNew();
    while (true)
    {
        try
        {
            await Exec(vm, "true");
            return;
        }
        catch (DataPlaneException) when (deadline.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(200);
        }
    }
}

async Task<double> Iperf(string client, string server, string address)
{
    await Exec(server, "iperf3", "-s", "-D", "-1");
    var deadline = Stopwatch.StartNew();
    while (!(await GuestAgent.ExecAsync(Path.Combine(dir, server + ".agent"), ["netstat", "-ltn"], TimeSpan.FromSeconds(5))).Stdout.Contains(":5201", StringComparison.Ordinal))
    {
        if (deadline.Elapsed > TimeSpan.FromSeconds(10))
        {
            throw new InvalidOperationException("iperf3 server did not listen");
        }

        await Task.Delay(100);
    }

    var r = await GuestAgent.ExecAsync(Path.Combine(dir, client + ".agent"), ["iperf3", "-c", address, "-t", seconds.ToString(CultureInfo.InvariantCulture), "-J"], TimeSpan.FromSeconds(seconds + 30));
    var json = JsonDocument.Parse(r.Stdout).RootElement;
    return json.TryGetProperty("error", out var error)
        ? throw new InvalidOperationException($"iperf3 {client} -> {address}: {error.GetString()}")
        : json.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e9;
}
