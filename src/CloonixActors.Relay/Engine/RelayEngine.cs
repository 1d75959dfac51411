using CloonixActors.Relay.Capture;
using CloonixActors.Relay.Memory;
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
public sealed class RelayEngine : IDisposable
{
    private const int Batch = 64;
    private const int SpinsBeforeSleep = 2000;
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

    public RelayEngine(VhostUserBackendOptions nodeSide, VhostUserBackendOptions lanSide)
    {
        _node = new Side(new VhostUserBackend(nodeSide));
        _lan = new Side(new VhostUserBackend(lanSide));
        _out = new Observer(Counters, outbound: true, this);
        _in = new Observer(Counters, outbound: false, this);
        foreach (var side in new[] { _node, _lan })
        {
            side.Backend.QueueReady += (_, e) => OnQueueReady(side, e.State);
            side.Backend.QueueStopped += (_, e) => OnQueueStopped(side, e);
        }

        _thread = new Thread(Run) { IsBackground = true, Name = $"relay {nodeSide.Name}" };
    }

    public TrafficCounters Counters { get; } = new();

    /// <summary>Where captured frames go; null stops capturing. Safe to change while frames flow.</summary>
    public PcapSink? Capture { get; set; }

    public VhostUserBackend NodeBackend => _node.Backend;

    public VhostUserBackend LanBackend => _lan.Backend;

    public void Start()
    {
        _node.Backend.Start();
        _lan.Backend.Start();
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
    }

    private static Forwarder? Wire(Side from, Side to, Observer observer) =>
        from.Queues[VhostUserBackend.TxQueue] is { } tx && to.Queues[VhostUserBackend.RxQueue] is { } rx
            ? new Forwarder(tx, (ulong)from.States[VhostUserBackend.TxQueue]!.Features, rx, (ulong)to.States[VhostUserBackend.RxQueue]!.Features, observer)
            : null;

    private void Run()
    {
        var idle = 0;
        while (!_stop)
        {
            var moved = 0;
            using (_node.Backend.DataPathGate.EnterScope())
            using (_lan.Backend.DataPathGate.EnterScope())
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

            if (++idle < SpinsBeforeSleep)
            {
                Thread.SpinWait(20);
                continue;
            }

            // Spin again only after a real wake-up; a timeout with nothing to do goes straight back to sleep.
            idle = Sleep() ? 0 : SpinsBeforeSleep;
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

    /// <summary>Asks the drivers to kick, checks once more for work (the race the kick would lose), then waits on the kicks.</summary>
    /// <returns>True when a kick (or pending work) woke it, false on a plain timeout.</returns>
    private unsafe bool Sleep()
    {
        Span<int> fds = stackalloc int[4];
        var n = 0;
        using (_node.Backend.DataPathGate.EnterScope())
        using (_lan.Backend.DataPathGate.EnterScope())
        {
            lock (_sync)
            {
                var more = false;
                foreach (var (side, forwarder, other) in new[] { (_node, _nodeToLan, _lanToNode), (_lan, _lanToNode, _nodeToLan) })
                {
                    // A tx ring wakes us when its driver sends. An rx ring is nearly always full of empty
                    // buffers: it only matters when a frame waits for room in it.
                    more |= Arm(side, VhostUserBackend.TxQueue, fds, ref n);
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
        _ = LibC.Poll(poll, (nuint)n, SleepMs);
        var woken = false;
        for (var i = 0; i < n; i++)
        {
            if ((poll[i].Revents & 1) != 0)
            {
                LibC.DrainEventFd(poll[i].Fd);
                woken = true;
            }
        }

        using (_node.Backend.DataPathGate.EnterScope())
        using (_lan.Backend.DataPathGate.EnterScope())
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

        _node.Backend.Dispose();
        _lan.Backend.Dispose();
    }

    private sealed class Side(VhostUserBackend backend)
    {
        public VhostUserBackend Backend { get; } = backend;

        public SplitVirtqueue?[] Queues { get; } = new SplitVirtqueue?[VhostUserBackend.QueueCount];

        public QueueState?[] States { get; } = new QueueState?[VhostUserBackend.QueueCount];
    }

    /// <summary>Counts every frame of one direction and copies it to the capture while one is on.</summary>
    private sealed class Observer(TrafficCounters counters, bool outbound, RelayEngine engine) : IFrameObserver
    {
        private readonly byte[] _copy = new byte[Forwarder.DefaultMaxFrameLength];

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
                var n = payload.CopyTo(_copy);
                capture.Offer(DateTimeOffset.UtcNow, _copy.AsSpan(0, n));
            }
        }
    }
}
