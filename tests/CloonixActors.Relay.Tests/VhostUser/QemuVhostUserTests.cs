using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using CloonixActors.Relay.VhostUser;
using Xunit.Abstractions;

namespace CloonixActors.Relay.Tests.VhostUser;

/// <summary>
/// The back-end against a real QEMU 7.2 (TCG) booting the tiny busybox guest with a virtio-net nic on our
/// socket: the guest's driver must negotiate, share its memory and post buffers on both rings.
/// </summary>
public sealed class QemuVhostUserTests(ITestOutputHelper output) : IDisposable
{
    private const string ImageDirectory = "/var/lib/cloonix/images/tiny";
    private static readonly TimeSpan DriverDeadline = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan TrafficDeadline = TimeSpan.FromSeconds(30);

    private readonly string _socketPath = Path.Combine(Path.GetTempPath(), $"vhu-qemu-{Guid.NewGuid():N}.sock");
    private readonly string _serialPath = Path.Combine(Path.GetTempPath(), $"vhu-qemu-{Guid.NewGuid():N}.log");
    private readonly string _monitorPath = Path.Combine(Path.GetTempPath(), $"vhu-qemu-{Guid.NewGuid():N}.mon");
    private readonly ConcurrentQueue<string> _qemuOutput = new();
    private readonly SemaphoreSlim _changed = new(0);
    private Process? _qemu;

    public void Dispose()
    {
        StopQemu();
        File.Delete(_serialPath);
        File.Delete(_socketPath); // normally already removed by the back-end
        File.Delete(_monitorPath);
        _changed.Dispose();
    }

    [Fact]
    public void Guest_driver_negotiates_shares_memory_and_posts_buffers_on_both_rings()
    {
        var messages = new ConcurrentQueue<VhostUserMessageEventArgs>();
        var stops = new ConcurrentQueue<(int Index, QueueStopReason Reason)>();
        var readyCount = 0;
        var mappedRegions = 0;
        using var backend = new VhostUserBackend(new VhostUserBackendOptions { SocketPath = _socketPath, Name = "qemu-test" });
        backend.MessageHandled += (_, e) => Signal(() => messages.Enqueue(e));
        backend.QueueReady += (_, _) => Signal(() => Interlocked.Increment(ref readyCount));
        backend.QueueStopped += (_, e) => Signal(() => stops.Enqueue((e.Index, e.Reason)));
        backend.MemoryTableChanged += (_, e) => Signal(() => Volatile.Write(ref mappedRegions, e.Table?.Regions.Count ?? 0));
        backend.Disconnected += (_, _) => Signal(() => { });
        backend.Start();

        try
        {
            StartQemu();

            WaitUntil("the driver acknowledged VERSION_1 and MRG_RXBUF", DriverDeadline, () =>
                backend.FeaturesSet && backend.AckedFeatures.HasFlag(VirtioFeatures.Version1 | VirtioFeatures.NetMrgRxbuf));
            WaitUntil("guest memory was mapped", DriverDeadline, () => Volatile.Read(ref mappedRegions) >= 1);
            WaitUntil("both rings started", DriverDeadline, () =>
                backend.GetQueueInfo(VhostUserBackend.RxQueue).Started && backend.GetQueueInfo(VhostUserBackend.TxQueue).Started);

            var features = backend.AckedFeatures;
            output.WriteLine($"negotiated features: {features}");
            Assert.Equal(VhostUserProtocolFeatures.ReplyAck, backend.AckedProtocolFeatures);
            Assert.Equal(VirtioFeatures.None, features & ~backend.OfferedFeatures);
            for (var ring = 0; ring < VhostUserBackend.QueueCount; ring++)
            {
                var info = backend.GetQueueInfo(ring);
                output.WriteLine($"ring {ring}: {info}");
                Assert.True(info.Size > 0);
                Assert.NotNull(info.Address);
                Assert.True(info.KickSet && info.KickFd >= 0, "kick descriptor");
                Assert.True(info.CallFd >= 0, "call descriptor");
                Assert.True(info.Enabled);
            }

            using (backend.DataPathGate.EnterScope())
            {
                var table = backend.Memory!;
                Assert.NotEmpty(table.Regions);
                Assert.All(table.Regions, r => Assert.NotEqual(0, r.Base));
            }

            // Nothing consumes the rings here, so what the driver posted stays visible in avail->idx.
            var txPosted = WaitFor(TrafficDeadline, () => AvailIndex(backend, VhostUserBackend.TxQueue) > 0);
            var rxAvail = AvailIndex(backend, VhostUserBackend.RxQueue);
            var txAvail = AvailIndex(backend, VhostUserBackend.TxQueue);
            output.WriteLine($"avail idx: rx={rxAvail} tx={txAvail} (tx posted within {TrafficDeadline.TotalSeconds} s: {txPosted})");
            Assert.True(rxAvail > 0, "the driver posted no receive buffers");
            if (!txPosted)
            {
                output.WriteLine("the guest sent nothing within the deadline; the posted RX buffers prove the driver runs");
            }

            var setMemTable = messages.First(m => m.Request == VhostUserRequest.SetMemTable);
            Assert.True(setMemTable.Header.NeedReply, "QEMU asks REPLY_ACK for SET_MEM_TABLE");
            Assert.Equal(VhostUserRequest.GetFeatures, messages.First().Request);
            Assert.DoesNotContain(messages, m => m.Error is not null);

            // A reset stops the device (GET_VRING_BASE per ring: QEMU checks our answer) and the rebooted
            // guest's driver starts the rings again.
            var readyBeforeReset = Volatile.Read(ref readyCount);
            Monitor("system_reset");
            WaitUntil("QEMU stopped both rings with GET_VRING_BASE", DriverDeadline, () =>
                stops.Contains((VhostUserBackend.RxQueue, QueueStopReason.GetVringBase)) &&
                stops.Contains((VhostUserBackend.TxQueue, QueueStopReason.GetVringBase)));
            WaitUntil("the rebooted driver started both rings again", DriverDeadline, () =>
                Volatile.Read(ref readyCount) >= readyBeforeReset + 2 &&
                backend.GetQueueInfo(VhostUserBackend.RxQueue).Started && backend.GetQueueInfo(VhostUserBackend.TxQueue).Started);
            WaitUntil("the rebooted driver posted receive buffers", DriverDeadline, () => AvailIndex(backend, VhostUserBackend.RxQueue) > 0);

            // QEMU quits: the session ends, the rings stop, the memory is unmapped.
            Monitor("quit");
            WaitUntil("the session ended", TimeSpan.FromSeconds(30), () => !backend.IsConnected);
            Assert.False(backend.GetQueueInfo(VhostUserBackend.RxQueue).Started);
            Assert.False(backend.GetQueueInfo(VhostUserBackend.TxQueue).Started);
            Assert.Null(backend.Memory);
            Assert.DoesNotContain(messages, m => m.Error is not null);
        }
        finally
        {
            output.WriteLine("messages from QEMU:");
            foreach (var message in messages)
            {
                output.WriteLine("  " + message);
            }

            StopQemu();
        }
    }

    private static unsafe ushort AvailIndex(VhostUserBackend backend, int ring)
    {
        using (backend.DataPathGate.EnterScope())
        {
            var state = backend.GetQueueState(ring);
            return state is null ? (ushort)0 : Volatile.Read(ref *(ushort*)(state.Available + 2));
        }
    }

    private void Signal(Action action)
    {
        action();
        _changed.Release();
    }

    private void StartQemu()
    {
        var start = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "-accel", "tcg", "-cpu", "max", "-m", "256", "-nodefaults", "-display", "none",
            "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
            "-chardev", $"socket,id=c0,path={_socketPath}",
            "-netdev", "vhost-user,id=n0,chardev=c0",
            // vectors=0: QEMU 7.2 under TCG crashes when a vhost-user nic with MSI-X starts.
            "-device", "virtio-net-pci,netdev=n0,vectors=0",
            "-kernel", Path.Combine(ImageDirectory, "vmlinuz"),
            "-initrd", Path.Combine(ImageDirectory, "initrd.img"),
            "-append", "console=ttyS0 quiet panic=-1",
            "-serial", $"file:{_serialPath}",
            "-monitor", $"unix:{_monitorPath},server=on,wait=off",
        })
        {
            start.ArgumentList.Add(argument);
        }

        _qemu = Process.Start(start) ?? throw new InvalidOperationException("qemu-system-x86_64 did not start");
        _qemu.OutputDataReceived += (_, e) => Collect(e.Data);
        _qemu.ErrorDataReceived += (_, e) => Collect(e.Data);
        _qemu.EnableRaisingEvents = true;
        _qemu.Exited += (_, _) => _changed.Release();
        _qemu.BeginOutputReadLine();
        _qemu.BeginErrorReadLine();
    }

    /// <summary>One human monitor command (system_reset, quit).</summary>
    private void Monitor(string command)
    {
        using var monitor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        monitor.Connect(new UnixDomainSocketEndPoint(_monitorPath));
        monitor.Send(Encoding.ASCII.GetBytes(command + "\n"));

        // Wait for the prompt after the command, so it was read before the connection closes.
        var buffer = new byte[4096];
        var seen = new StringBuilder();
        monitor.ReceiveTimeout = 10_000;
        while (seen.ToString().Split("(qemu)").Length < 3)
        {
            var n = monitor.Receive(buffer);
            if (n == 0)
            {
                break;
            }

            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        output.WriteLine($"monitor: {command}");
    }

    private void Collect(string? line)
    {
        if (line is not null)
        {
            _qemuOutput.Enqueue(line);
        }
    }

    private void StopQemu()
    {
        var qemu = _qemu;
        if (qemu is null)
        {
            return;
        }

        _qemu = null;
        try
        {
            if (!qemu.HasExited)
            {
                qemu.Kill(entireProcessTree: true);
            }

            qemu.WaitForExit(10_000);
        }
        finally
        {
            qemu.Dispose();
        }
    }

    /// <summary>Waits for <paramref name="condition"/>, re-checked on every back-end event (and a few times a second for memory-only changes).</summary>
    private bool WaitFor(TimeSpan deadline, Func<bool> condition)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            if (stopwatch.Elapsed > deadline)
            {
                return false;
            }

            _ = _changed.Wait(TimeSpan.FromMilliseconds(200));
        }

        return true;
    }

    private void WaitUntil(string what, TimeSpan deadline, Func<bool> condition)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            if (_qemu is { HasExited: true } exited && what != "the session ended")
            {
                Assert.Fail($"QEMU exited ({exited.ExitCode}) before {what}\n{Diagnostics()}");
            }

            if (stopwatch.Elapsed > deadline)
            {
                Assert.Fail($"not within {deadline.TotalSeconds} s: {what}\n{Diagnostics()}");
            }

            _ = _changed.Wait(TimeSpan.FromMilliseconds(200));
        }

        output.WriteLine($"{stopwatch.Elapsed.TotalSeconds:F1} s: {what}");
    }

    private string Diagnostics()
    {
        var serial = File.Exists(_serialPath) ? File.ReadAllText(_serialPath) : "(no serial log)";
        if (serial.Length > 4000)
        {
            serial = serial[^4000..];
        }

        return $"QEMU output:\n{string.Join('\n', _qemuOutput)}\nserial console:\n{serial}";
    }
}
