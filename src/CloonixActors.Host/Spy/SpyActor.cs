using System.Runtime.ExceptionServices;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using CloonixActors.Relay.Capture;
using CloonixActors.Relay.Engine;
using CloonixActors.Relay.Impairment;

namespace CloonixActors.Host.Spy;

/// <summary>
/// The node's side of an s nic's relay: a VM's vhost-user socket (QEMU connects to it), or a container's
/// tap (made persistent inside the container's namespace, so its addresses outlive a relay restart).
/// </summary>
public sealed record RelayNode(string? VhostSocket = null, string? Netns = null, string? Interface = null)
{
    public static RelayNode Vm(string socket) => new(VhostSocket: socket);

    public static RelayNode Container(string netns, string ifname) => new(Netns: netns, Interface: ifname);
}

/// <summary>Makes the relay of one s nic: a name for its thread, the node's side, the lan-side tap.</summary>
public delegate IRelay RelayFactory(string name, RelayNode node, string lanTap);

/// <summary>Apply the state's impairment of one s nic (internal; from the host agent through the VM actor).</summary>
public sealed record ApplyImpairment(int Nic, ImpairmentSpec In, ImpairmentSpec Out, IActorRef? ReplyTo);

/// <summary>
/// Owns the relay of one s nic: its forwarding thread and its two vhost-user sockets. Publishes the nic's
/// counters about once a second (the "blinking"), runs at most one capture at a time, applies the nic's
/// impairment. When the relay thread dies it makes a new relay (with back-off) and puts the capture and
/// the impairment back on it; QEMU reconnects by itself, and the host agent re-creates the OVS port,
/// which does not reconnect. Making a relay (its taps, its sockets' directory) and disposing of one (joining
/// its thread) run on the thread pool, never on the actor's thread; a relay is this actor's from the moment
/// its making begins, so one that is still being made when the actor stops is disposed of once it exists.
/// </summary>
public sealed class SpyActor : ReceiveActor, IWithTimers
{
    public const string TrafficTopic = "cloonix.traffic";
    private static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);

    private readonly string _host;
    private readonly NodeSpec _node;
    private readonly int _nic;
    private readonly RelayNode _nodeSide;
    private readonly RelayFactory _factory;
    private readonly IActorRef? _publishTo;
    private readonly MemberGate _gate = new(Context);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IRelay? _relay;
    // The relay being made on the pool, and a fault it reported before its making was heard of.
    private Task<IRelay>? _starting;
    private RelayFaulted? _faultedEarly;
    // Counters of relays that died, so the published totals never go back.
    private TrafficSnapshot _carried;
    private TrafficSnapshot _last;
    private DateTimeOffset _lastAt = DateTimeOffset.UtcNow;
    private int _restarts;
    private ImpairmentSettings? _in;
    private ImpairmentSettings? _out;
    private Capture? _capture;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The project's messages only from this process or the cluster's members (see <see cref="MemberGate"/>).</summary>
    protected override bool AroundReceive(Receive receive, object message) => _gate.Refuses(message, Sender) || base.AroundReceive(receive, message);

    /// <param name="publishTo">Where the traffic events go; null: the cluster's pub-sub mediator (tests give a probe).</param>
    public static Props Props(string host, NodeSpec node, int nic, RelayNode nodeSide, RelayFactory factory, IActorRef? publishTo = null) =>
        Akka.Actor.Props.Create(() => new SpyActor(host, node, nic, nodeSide, factory, publishTo));

    public SpyActor(string host, NodeSpec node, int nic, RelayNode nodeSide, RelayFactory factory, IActorRef? publishTo)
    {
        _publishTo = publishTo;
        _host = host;
        _node = node;
        _nic = nic;
        _nodeSide = nodeSide;
        _factory = factory;

        Receive<Tick>(_ => Publish());
        Receive<RelayFaulted>(OnFaulted);
        Receive<RestartRelay>(_ => StartRelay());
        Receive<RelayStarted>(OnRelayStarted);
        Receive<RelayNotStarted>(OnRelayNotStarted);
        Receive<ApplyImpairment>(OnImpairment);
        Receive<StartCapture>(OnStartCapture);
        Receive<InjectRelayFault>(_ =>
        {
            if (_relay is null)
            {
                Sender.Tell(new CommandFailed(ErrorCode.Unavailable, $"{Nic}: the relay is restarting"));
                return;
            }

            _relay.FailForTest();
            Sender.Tell(new CommandSucceeded($"{Nic}: relay thread failure injected"));
        });
        Receive<CaptureSessionEnded>(e => EndCapture(e.Reason));
        Receive<CaptureEnded>(e =>
        {
            e.Receiver.Tell(e.Result);
            _log.Info("{0}: capture ended ({1}): {2} frame(s) written, {3} dropped, {4} counted", Nic, e.Result.Reason, e.Result.Frames, e.Result.Dropped, e.Result.Counted);
        });
    }

    private string Nic => $"{_node.Name}/{_nic}";

    private sealed record Tick;

    private sealed record RelayFaulted(IRelay Relay, string Message);

    private sealed record RestartRelay;

    private sealed record RelayStarted(IRelay Relay);

    private sealed record RelayNotStarted(Exception Cause);

    private sealed record CaptureEnded(IActorRef Receiver, CaptureStopped Result);

    /// <summary>A running capture: its sink on the relay, the stream the sink writes into, the counters when it began.</summary>
    private sealed record Capture(IActorRef Receiver, IActorRef Session, PcapSink Sink, CaptureStream Stream, TrafficSnapshot Start);

    protected override void PreStart()
    {
        StartRelay();
        Timers.StartPeriodicTimer("tick", new Tick(), TickInterval);
    }

    protected override void PostStop()
    {
        if (_capture is { } c)
        {
            _capture = null;
            _relay?.SwapCapture(null);
            c.Receiver.Tell(new CaptureStopped(_node.Name, _nic, c.Sink.Written, c.Sink.Dropped, 0, "the nic was removed"));
            _ = c.Sink.DisposeAsync().AsTask();
        }

        if (_starting is { } starting)
        {
            // Its RelayStarted will find no actor: the relay (tap, thread) is still this actor's to remove.
            RelayReleases.Release(LanTap, starting, _log);
            _starting = null;
        }

        if (_relay is { } relay)
        {
            RelayReleases.Release(LanTap, Task.FromResult(relay), _log);
            _relay = null;
        }
    }

    private string LanTap => OsNames.SpyPort(_node.Id, _nic);

    private void StartRelay()
    {
        if (_starting is not null || _relay is not null)
        {
            return;
        }

        var self = Self;
        var (factory, nodeSide, name, lanTap) = (_factory, _nodeSide, $"{_node.Name} eth{_nic}", LanTap);
        var (outbound, inbound) = (_out, _in);
        // The tap keeps its name from relay to relay: the last one's must be gone before it is made again.
        var released = RelayReleases.Of(lanTap);
        var starting = Task.Run(async () =>
        {
            await Task.WhenAny(released).ConfigureAwait(false);
            if (nodeSide.VhostSocket is { } socket)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
            }

            var relay = factory(name, nodeSide, lanTap);
            try
            {
                relay.Faulted += ex => self.Tell(new RelayFaulted(relay, ex.Message));
                relay.SetImpairment(outbound, inbound);
                relay.Start();
                return relay;
            }
            catch
            {
                relay.Dispose();
                throw;
            }
        });
        _starting = starting;
        starting.PipeTo(Self, success: relay => new RelayStarted(relay), failure: ex => new RelayNotStarted(ex is AggregateException { InnerException: { } inner } ? inner : ex));
    }

    private void OnRelayStarted(RelayStarted started)
    {
        _starting = null;
        var relay = started.Relay;
        _relay = relay;
        // The impairment may have changed while the relay was being made.
        relay.SetImpairment(_out, _in);
        _log.Info("{0}: relay started ({1} on the lan bridge)", Nic, LanTap);
        if (_capture is { } c)
        {
            relay.SwapCapture(c.Sink);
        }

        // The lan-side tap is new (the one of an earlier relay, or of an earlier cloonixd, went with it): OVS
        // keeps a port whose device came back dead until it is removed and added again.
        Context.Parent.Tell(new NodeReady(_node.Name, [LanTap]));
        if (_faultedEarly is { } early)
        {
            _faultedEarly = null;
            OnFaulted(early);
        }
    }

    private void OnRelayNotStarted(RelayNotStarted failed)
    {
        _starting = null;
        if (failed.Cause is not (IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException))
        {
            // Not the OS refusing a tap or a socket: a fault of this actor, for its supervisor (as when it was made on this thread).
            ExceptionDispatchInfo.Throw(failed.Cause);
        }

        _log.Warning("{0}: relay did not start: {1}", Nic, failed.Cause.Message);
        ScheduleRestart();
    }

    private void ScheduleRestart()
    {
        var delay = RetryBackoff.Delay(++_restarts, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
        Timers.StartSingleTimer("restart", new RestartRelay(), delay);
    }

    private void OnFaulted(RelayFaulted f)
    {
        if (!ReferenceEquals(f.Relay, _relay))
        {
            // Its thread may die before the relay's making is heard of: handled once it is.
            _faultedEarly = _starting is not null ? f : null;
            return;
        }

        _log.Error("{0}: relay thread failed ({1}); starting a new relay", Nic, f.Message);
        _carried += _relay.Counters.Snapshot();
        RelayReleases.Release(LanTap, Task.FromResult(_relay), _log);
        _relay = null;
        ScheduleRestart();
    }

    private TrafficSnapshot Totals() => _carried + (_relay?.Counters.Snapshot() ?? default);

    private void Publish()
    {
        var now = DateTimeOffset.UtcNow;
        var totals = Totals();
        var seconds = Math.Max((now - _lastAt).TotalSeconds, 0.001);
        var d = totals - _last;
        _last = totals;
        _lastAt = now;
        (_publishTo ?? DistributedPubSub.Get(Context.System).Mediator).Tell(new Publish(TrafficTopic, new NicTraffic(
            _host,
            _node.Name,
            _nic,
            now,
            totals.PacketsIn,
            totals.BytesIn,
            totals.PacketsOut,
            totals.BytesOut,
            totals.Drops,
            d.PacketsIn / seconds,
            d.PacketsOut / seconds,
            d.BytesIn * 8 / seconds,
            d.BytesOut * 8 / seconds,
            _restarts)));
    }

    private void OnImpairment(ApplyImpairment a)
    {
        _in = ToSettings(a.In);
        _out = ToSettings(a.Out);
        _relay?.SetImpairment(_out, _in);
        _log.Info("{0}: impairment in: {1}; out: {2}", Nic, a.In, a.Out);
        a.ReplyTo?.Tell(new CommandSucceeded($"{Nic} impaired: in {a.In}; out {a.Out}"));
    }

    private static ImpairmentSettings? ToSettings(ImpairmentSpec s) =>
        s.IsNone ? null : new ImpairmentSettings(s.DelayMs, s.JitterMs, s.LossPercent, s.RateMbit);

    private void OnStartCapture(StartCapture start)
    {
        if (_capture is not null)
        {
            Sender.Tell(new CommandFailed(ErrorCode.Conflict, $"{Nic} is already being captured: one capture per nic at a time"));
            return;
        }

        if (start.Receiver is null || start.Receiver.IsNobody())
        {
            Sender.Tell(new CommandFailed(ErrorCode.InvalidArgument, "a capture needs a receiver"));
            return;
        }

        var receiver = start.Receiver;
        var self = Self;
        var stream = new CaptureStream((seq, bytes) => receiver.Tell(new CaptureChunk(seq, bytes), self), window: 16, stallTimeout: TimeSpan.FromSeconds(10));
        var sink = new PcapSink(stream);
        var session = Context.ActorOf(CaptureSession.Props(stream, receiver, start.Reader ?? receiver), $"capture-{Guid.NewGuid():N}");
        var at = _relay?.SwapCapture(sink) ?? Totals();
        _capture = new Capture(receiver, session, sink, stream, _carried + at);
        _log.Info("{0}: capture started for {1}", Nic, receiver.Path);
        Sender.Tell(new CaptureStarted(_node.Name, _nic, session));
    }

    private void EndCapture(string reason)
    {
        if (_capture is not { } c)
        {
            return;
        }

        _capture = null;
        var end = _carried + (_relay?.SwapCapture(null) ?? default);
        Context.Stop(c.Session);
        var counted = (end - c.Start).Packets;
        var (node, nic) = (_node.Name, _nic);
        // Disposing drains the sink's queue into the stream: every chunk goes out before the summary.
        c.Sink.DisposeAsync().AsTask().ContinueWith(
            _ => new CaptureEnded(c.Receiver, new CaptureStopped(node, nic, c.Sink.Written, c.Sink.Dropped, counted, reason)),
            TaskScheduler.Default).PipeTo(Self);
    }
}

/// <summary>
/// Disposals of relays still under way, by the name of their lan tap. A tap's name is the host's, not an
/// actor's: a relay that makes it again (after a fault, or in a spy actor restarted by its supervisor) waits
/// until the last relay that had it is gone.
/// </summary>
internal static class RelayReleases
{
    private static readonly Dictionary<string, Task> Pending = new(StringComparer.Ordinal);
    private static readonly Lock Gate = new();

    /// <summary>Done once every relay released with <paramref name="lanTap"/> is disposed of.</summary>
    public static Task Of(string lanTap)
    {
        lock (Gate)
        {
            return Pending.GetValueOrDefault(lanTap) ?? Task.CompletedTask;
        }
    }

    /// <summary>Disposes of the relay once it exists (nothing when its making fails), on the pool: disposing joins its thread.</summary>
    public static void Release(string lanTap, Task<IRelay> relay, ILoggingAdapter log)
    {
        lock (Gate)
        {
            var before = Pending.GetValueOrDefault(lanTap) ?? Task.CompletedTask;
            Task? released = null;
            released = Task.WhenAll(before, relay).ContinueWith(
                _ =>
                {
                    try
                    {
                        if (relay.IsCompletedSuccessfully)
                        {
                            relay.Result.Dispose();
                        }
                    }
                    catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                    {
                        log.Warning("relay of {0}: not disposed of cleanly: {1}", lanTap, ex.Message);
                    }
                    finally
                    {
                        lock (Gate)
                        {
                            if (Pending.GetValueOrDefault(lanTap) == released)
                            {
                                Pending.Remove(lanTap);
                            }
                        }
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.None,
                TaskScheduler.Default);
            Pending[lanTap] = released;
        }
    }
}

/// <summary>How a node's actor hands spy requests to the SpyActor of the nic (its child "spy-N").</summary>
public static class SpyRouting
{
    public static string ChildName(int nic) => $"spy-{nic}";

    public static void ToSpy(IUntypedActorContext context, string node, int nic, object message, IActorRef? replyTo)
    {
        if (context.Child(ChildName(nic)) is { } spy && !spy.IsNobody())
        {
            spy.Tell(message, replyTo ?? ActorRefs.NoSender);
        }
        else
        {
            replyTo?.Tell(new CommandFailed(ErrorCode.Unavailable, $"nic {node}/{nic} has no relay running yet"));
        }
    }
}

/// <summary>Sent by a capture session to its spy when the capture must end (asked, reader gone, or silent).</summary>
public sealed record CaptureSessionEnded(string Reason);

/// <summary>
/// The capture's face to the client: it takes the reader's acknowledgements (which give the stream its
/// credit back) and its stop, and ends the capture when the reader goes away or stays silent.
/// </summary>
public sealed class CaptureSession : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan Silence = TimeSpan.FromSeconds(10);
    private readonly IActorRef _reader;
    private DateTime _heard = DateTime.UtcNow;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="reader">The only sender whose acknowledgements and stop count: the client's actor that reads the stream.</param>
    public static Props Props(CaptureStream stream, IActorRef receiver, IActorRef reader) =>
        Akka.Actor.Props.Create(() => new CaptureSession(stream, receiver, reader));

    /// <summary>Acknowledgements and the stop only from the reader: anyone else could stall or end the capture.</summary>
    protected override bool AroundReceive(Receive receive, object message) =>
        (message is CaptureAck or StopCapture && !Sender.Equals(_reader)) || base.AroundReceive(receive, message);

    public CaptureSession(CaptureStream stream, IActorRef receiver, IActorRef reader)
    {
        _reader = reader;
        Context.Watch(receiver);
        Receive<CaptureAck>(a =>
        {
            _heard = DateTime.UtcNow;
            stream.Ack(a.Sequence);
        });
        Receive<StopCapture>(_ => End("stopped by the reader"));
        Receive<Terminated>(_ => End("the reader went away"));
        Receive<CheckSilence>(_ =>
        {
            if (DateTime.UtcNow - _heard > Silence)
            {
                End("the reader stopped answering");
            }
        });
    }

    private sealed record CheckSilence;

    protected override void PreStart() => Timers.StartPeriodicTimer("silence", new CheckSilence(), TimeSpan.FromSeconds(2));

    private void End(string reason)
    {
        Context.Parent.Tell(new CaptureSessionEnded(reason));
        Timers.CancelAll();
        Become(() => ReceiveAny(_ => { }));
    }
}
