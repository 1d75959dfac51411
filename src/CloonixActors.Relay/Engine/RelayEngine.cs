using System.Diagnostics;
using CloonixActors.Relay.Capture;
using CloonixActors.Relay.Impairment;
using CloonixActors.Relay.Memory;
using CloonixActors.Relay.Tap;
using CloonixActors.Relay.VhostUser;
using CloonixActors.Relay.Virtio;

namespace CloonixActors.Relay.Engine;

/// <summary>
/// The relay of one spyable nic: two vhost-user devices, the node's side (A) and the lan's side (B), and
/// one dedicated thread that moves frames A.tx → B.rx ("out", from the node) and B.tx → A.rx ("in"),
/// keeping the virtio-net header so offloads pass. Counting and capture watch the frames as they go.
/// The thread busy-polls while frames flow and sleeps on the kick eventfds when idle, so an idle relay
/// costs nothing. Lock order: a backend's data-path gate, then the other's, then <see cref="_sync"/>;
/// the backends' control threads change rings only under their gate, never mid-batch.
/// </summary>
public sealed class RelayEngine : IRelay
{
    private const int Batch = 64;
    // How long to spin before sleeping on the kicks adapts to the traffic between MinSpins and MaxSpins: a
    // sleep a kick ends almost at once was not worth its syscalls (a steady stream: spin longer); a long
    // sleep means bursts with gaps, where spinning only takes the CPU from others.
    private const int MinSpins = 20;
    private static readonly TimeSpan ShortSleep = TimeSpan.FromMicroseconds(100);
    private static readonly TimeSpan LongSleep = TimeSpan.FromMilliseconds(1);
    private const int SleepMs = 200;

    private readonly Side _node;
    private readonly Side _lan;
    private readonly Lock _sync = new();
    private readonly Thread _thread;
    private readonly Observer _out;
    private readonly Observer _in;
    private volatile bool _stop;
    private Forwarder? _nodeToLan;
    private Forwarder? _lanToNode;
    private ImpairmentSettings? _impairOut;
    private ImpairmentSettings? _impairIn;
    private volatile bool _failForTest;

    public RelayEngine(VhostUserBackendOptions nodeSide, VhostUserBackendOptions lanSide)
        : this(new Side(new VhostUserBackend(nodeSide)), new Side(new VhostUserBackend(lanSide)), nodeSide.Name)
    {
    }

    /// <summary>A VM's s nic: vhost-user on the node's side, a tap on the lan bridge on the other (which keeps offloads on OVS).</summary>
    public RelayEngine(VhostUserBackendOptions nodeSide, TapDevice lanSide)
        : this(new Side(new VhostUserBackend(nodeSide)), new Side(lanSide), nodeSide.Name)
    {
    }

    /// <summary>A container's s nic: a tap in the container and a tap on the lan bridge.</summary>
    public RelayEngine(TapDevice nodeSide, TapDevice lanSide)
        : this(new Side(nodeSide), new Side(lanSide), nodeSide.Name)
    {
    }

    private RelayEngine(Side node, Side lan, string name)
    {
        _node = node;
        _lan = lan;
        _out = new Observer(Counters, outbound: true, this);
        _in = new Observer(Counters, outbound: false, this);
        foreach (var side in new[] { _node, _lan })
        {
            if (side.Backend is { } backend)
            {
                backend.QueueReady += (_, e) => OnQueueReady(side, e.State);
                backend.QueueStopped += (_, e) => OnQueueStopped(side, e);
            }
        }

        _thread = new Thread(Run) { IsBackground = true, Name = $"relay {name}" };
        // Tap to tap needs no ring to appear first.
        Rewire();
    }

    public TrafficCounters Counters { get; } = new();

    /// <summary>
    /// The most rounds the thread spins before sleeping. The default suits hosts where the relays share
    /// cores with the guests (on this 2-core TCG machine: VM to VM over s at 54-60 % of d with 20, 33-39 %
    /// with 4000); with a core to spare, 4000 nearly triples 64-byte packet rates (bench/RelayBench pps).
    /// </summary>
    public int MaxSpins { get; init; } = MinSpins;

    /// <summary>Where captured frames go; null stops capturing. Safe to change while frames flow.</summary>
    public PcapSink? Capture { get; set; }

    /// <summary>The forwarding thread died of an unexpected exception; the owner disposes this relay and makes a new one.</summary>
    public event Action<Exception>? Faulted;

    /// <summary>
    /// Starts or stops a capture between two frames, and returns the counters at that instant, so a
    /// capture's frames can be matched exactly against the counters' difference.
    /// </summary>
    public TrafficSnapshot SwapCapture(PcapSink? sink)
    {
        lock (_sync)
        {
            Capture = sink;
            return Counters.Snapshot();
        }
    }

    /// <summary>Impairs frames from the node ("out") and towards it ("in"); null or none: straight through.</summary>
    public void SetImpairment(ImpairmentSettings? outbound, ImpairmentSettings? inbound)
    {
        lock (_sync)
        {
            _impairOut = outbound;
            _impairIn = inbound;
            _nodeToLan?.SetImpairment(outbound);
            _lanToNode?.SetImpairment(inbound);
        }
    }

    /// <summary>Fault injection for tests: the forwarding thread throws at its next step.</summary>
    public void FailForTest() => _failForTest = true;

    public VhostUserBackend NodeBackend => _node.Backend ?? throw new InvalidOperationException("the node side is a tap");

    public VhostUserBackend LanBackend => _lan.Backend ?? throw new InvalidOperationException("the lan side is a tap");

    public void Start()
    {
        _node.Backend?.Start();
        _lan.Backend?.Start();
        _thread.Start();
    }

    private void OnQueueReady(Side side, QueueState state)
    {
        lock (_sync)
        {
            Retire(side, state.Index);
            var regions = state.Memory.Regions.Select(r => new GuestMemoryRegion(r.GuestPhysAddr, r.Size, r.UserAddr, r.MmapOffset, r.Base)).ToArray();
            // The backend owns the mapping and unmaps it after QueueStopped: this view releases nothing.
            var memory = new GuestMemory(regions);
            var addresses = new VirtqueueAddresses(state.Address.DescriptorUserAddr, state.Address.AvailableUserAddr, state.Address.UsedUserAddr);
            if (SplitVirtqueue.TryCreate(memory, state.Size, addresses, (ulong)state.Features, state.Base, out var queue, out _))
            {
                side.Queues[state.Index] = queue;
                side.States[state.Index] = state;
            }

            Rewire();
        }
    }

    private void OnQueueStopped(Side side, QueueStoppedEventArgs e)
    {
        lock (_sync)
        {
            if (side.Queues[e.Index] is { } queue)
            {
                // Frames held for a full destination go back to their driver before the ring stops.
                _nodeToLan?.ReturnHeld();
                _lanToNode?.ReturnHeld();
                e.LastAvailIndex = queue.GetBase();
            }

            Retire(side, e.Index);
            Rewire();
        }
    }

    private static void Retire(Side side, int index)
    {
        side.Queues[index] = null;
        side.States[index] = null;
    }

    private void Rewire()
    {
        _nodeToLan = Wire(_node, _lan, _out);
        _lanToNode = Wire(_lan, _node, _in);
        _nodeToLan?.SetImpairment(_impairOut);
        _lanToNode?.SetImpairment(_impairIn);
    }

    private static Forwarder? Wire(Side from, Side to, Observer observer)
    {
        var tx = from.Queues[VhostUserBackend.TxQueue];
        var rx = to.Queues[VhostUserBackend.RxQueue];
        var txFeatures = (ulong)(from.States[VhostUserBackend.TxQueue]?.Features ?? 0);
        var rxFeatures = (ulong)(to.States[VhostUserBackend.RxQueue]?.Features ?? 0);
        return (from.Tap, to.Tap) switch
        {
            (null, null) when tx is not null && rx is not null => new Forwarder(tx, txFeatures, rx, rxFeatures, observer),
            (null, { } toTap) when tx is not null => Forwarder.ToTap(tx, txFeatures, toTap, observer),
            ({ } fromTap, null) when rx is not null => Forwarder.FromTap(fromTap, rx, rxFeatures, observer),
            ({ } fromTap, { } toTap) => Forwarder.TapToTap(fromTap, toTap, observer),
            _ => null,
        };
    }

    private void Run()
    {
        try
        {
            Loop();
        }
        catch (Exception ex) when (!_stop)
        {
            // Never let a bug in forwarding take the daemon down: the owner restarts the relay.
            Faulted?.Invoke(ex);
        }
    }

    private void Loop()
    {
        var idle = 0;
        var spins = MinSpins;
        while (!_stop)
        {
            if (_failForTest)
            {
                _failForTest = false;
                throw new InvalidOperationException("relay thread failure injected by a test");
            }

            var moved = 0;
            using (_node.Gate.EnterScope())
            using (_lan.Gate.EnterScope())
            {
                lock (_sync)
                {
                    moved += Step(_nodeToLan, _node, _lan);
                    moved += Step(_lanToNode, _lan, _node);
                }
            }

            if (moved > 0)
            {
                idle = 0;
                continue;
            }

            if (++idle < spins)
            {
                Thread.SpinWait(20);
                continue;
            }

            var slept = Stopwatch.GetTimestamp();
            var woken = Sleep(NextRelease());
            var asleep = Stopwatch.GetElapsedTime(slept);
            spins = !woken || asleep > LongSleep ? Math.Max(MinSpins, spins / 2)
                : asleep < ShortSleep ? Math.Min(Math.Max(MaxSpins, MinSpins), spins * 2)
                : spins;

            // Spin again only after a real wake-up; a timeout with nothing to do goes straight back to sleep.
            idle = woken ? 0 : spins;
        }
    }

    private static int Step(Forwarder? forwarder, Side from, Side to)
    {
        if (forwarder is null)
        {
            return 0;
        }

        var r = forwarder.Forward(Batch);
        if (r.NotifySource && from.States[VhostUserBackend.TxQueue] is { CallFd: >= 0 } s)
        {
            LibC.SignalEventFd(s.CallFd);
        }

        if (r.NotifyDestination && to.States[VhostUserBackend.RxQueue] is { CallFd: >= 0 } d)
        {
            LibC.SignalEventFd(d.CallFd);
        }

        return r.Frames + r.TotalDropped;
    }

    /// <summary>How long until an impairment releases a frame; null when none holds any.</summary>
    private TimeSpan? NextRelease()
    {
        lock (_sync)
        {
            var a = _nodeToLan?.NextRelease;
            var b = _lanToNode?.NextRelease;
            return a is null ? b : b is null ? a : a < b ? a : b;
        }
    }

    /// <summary>Asks the drivers to kick, checks once more for work (the race the kick would lose), then waits on the kicks.</summary>
    /// <param name="due">An impairment's next release: the wait ends by then.</param>
    /// <returns>True when a kick (or pending work) woke it, false on a plain timeout.</returns>
    private unsafe bool Sleep(TimeSpan? due)
    {
        if (due is { } d && d <= TimeSpan.FromMilliseconds(1))
        {
            // Due now or within a millisecond (a rate cap's spacing): keep polling instead of sleeping.
            Thread.Yield();
            return true;
        }

        Span<int> fds = stackalloc int[4];
        var n = 0;
        using (_node.Gate.EnterScope())
        using (_lan.Gate.EnterScope())
        {
            lock (_sync)
            {
                var more = false;
                foreach (var (side, forwarder, other) in new[] { (_node, _nodeToLan, _lanToNode), (_lan, _lanToNode, _nodeToLan) })
                {
                    // A tx ring wakes us when its driver sends (a tap, when a frame can be read and there is
                    // somewhere to put it). An rx ring is nearly always full of empty buffers: it only matters
                    // when a frame waits for room in it.
                    if (side.Tap is { } tap)
                    {
                        if (forwarder is { HasPendingFrame: false })
                        {
                            fds[n++] = tap.Fd;
                        }
                    }
                    else
                    {
                        // Frames waiting in a tx ring are work only when they can go somewhere: not while
                        // this direction holds a frame for a full destination, nor before it has one.
                        var waiting = Arm(side, VhostUserBackend.TxQueue, fds, ref n);
                        more |= waiting && forwarder is { HasPendingFrame: false };
                    }

                    if (other?.HasPendingFrame == true)
                    {
                        more |= Arm(side, VhostUserBackend.RxQueue, fds, ref n);
                    }
                }

                if (more)
                {
                    DisableAll();
                    return true;
                }
            }
        }

        var poll = stackalloc LibC.PollFd[Math.Max(n, 1)];
        for (var i = 0; i < n; i++)
        {
            poll[i] = new LibC.PollFd { Fd = fds[i], Events = 1 };
        }

        // A short timeout also notices rings that appeared or moved while sleeping (their fds are new).
        var timeout = due is { } next ? Math.Min(SleepMs, (int)next.TotalMilliseconds) : SleepMs;
        _ = LibC.Poll(poll, (nuint)n, timeout);
        var woken = false;
        for (var i = 0; i < n; i++)
        {
            if ((poll[i].Revents & 1) != 0)
            {
                if (poll[i].Fd != _node.Tap?.Fd && poll[i].Fd != _lan.Tap?.Fd)
                {
                    // A kick eventfd is reset; a tap's readiness is its frames, which the next step reads.
                    LibC.DrainEventFd(poll[i].Fd);
                }

                woken = true;
            }
        }

        using (_node.Gate.EnterScope())
        using (_lan.Gate.EnterScope())
        {
            lock (_sync)
            {
                DisableAll();
            }
        }

        return woken;
    }

    private static bool Arm(Side side, int q, Span<int> fds, ref int n)
    {
        if (side.Queues[q] is not { } queue)
        {
            return false;
        }

        var more = queue.EnableNotifications();
        if (side.States[q] is { KickFd: >= 0 } state)
        {
            fds[n++] = state.KickFd;
        }

        return more;
    }

    private void DisableAll()
    {
        foreach (var side in new[] { _node, _lan })
        {
            foreach (var queue in side.Queues)
            {
                queue?.DisableNotifications();
            }
        }
    }

    public void Dispose()
    {
        _stop = true;
        if (_thread.IsAlive)
        {
            _thread.Join();
        }

        _node.Dispose();
        _lan.Dispose();
    }

    /// <summary>One side of the relay: a vhost-user device (its rings come and go with the driver), or a tap.</summary>
    private sealed class Side : IDisposable
    {
        // A tap has no control thread to race with: its gate is never contended.
        private readonly Lock _tapGate = new();

        public Side(VhostUserBackend backend) => Backend = backend;

        public Side(TapDevice tap) => Tap = tap;

        public VhostUserBackend? Backend { get; }

        public TapDevice? Tap { get; }

        public Lock Gate => Backend?.DataPathGate ?? _tapGate;

        public void Dispose()
        {
            Backend?.Dispose();
            Tap?.Dispose();
        }

        public SplitVirtqueue?[] Queues { get; } = new SplitVirtqueue?[VhostUserBackend.QueueCount];

        public QueueState?[] States { get; } = new QueueState?[VhostUserBackend.QueueCount];
    }

    /// <summary>Counts every frame of one direction and copies it to the capture while one is on.</summary>
    private sealed class Observer(TrafficCounters counters, bool outbound, RelayEngine engine) : IFrameObserver
    {
        public void OnFrame(in VirtioNetHeader header, FramePayload payload, DropReason outcome)
        {
            if (outcome != DropReason.None)
            {
                counters.CountDrop();
                return;
            }

            if (outbound)
            {
                counters.CountOut(payload.Length);
            }
            else
            {
                counters.CountIn(payload.Length);
            }

            if (engine.Capture is { } capture)
            {
                capture.Offer(DateTimeOffset.UtcNow, payload);
            }
        }
    }
}
