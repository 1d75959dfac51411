using Akka.Actor;
using Akka.Event;
using CloonixActors.DataPlane;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Containers;

/// <summary>
/// Owns one container: its network namespace, its veth pairs, the relays of its s nics (SpyActor children,
/// started once the namespace exists) and every process started inside it.
/// On start it adopts what already exists (a restarted daemon) and creates what is missing; it runs
/// <c>exec</c> requests; on teardown it kills what runs inside and removes the namespace and veths.
/// </summary>
public sealed class ContainerActor : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly NodeSpec _node;
    private readonly IContainerPlane _plane;
    private readonly string _ns;
    private readonly IReadOnlyList<VethPair> _nics;
    private readonly string _host;
    private readonly RelayFactory? _relays;
    // Impairments that arrived before the relays existed, applied when they start.
    private readonly Dictionary<int, ApplyImpairment> _impairments = [];
    private readonly MemberGate _gate = new(Context);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waiting = [];
    private bool _ready;
    private bool _ensuring;
    private int _failures;
    private Teardown? _pendingTeardown;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The project's messages only from this process or the cluster's members (see <see cref="MemberGate"/>).</summary>
    protected override bool AroundReceive(Receive receive, object message) => _gate.Refuses(message, Sender) || base.AroundReceive(receive, message);

    public static Props Props(NodeSpec node, string host, IContainerPlane plane, IActorRef? replyTo, RelayFactory? relays = null) =>
        Akka.Actor.Props.Create(() => new ContainerActor(node, host, plane, replyTo, relays));

    public ContainerActor(NodeSpec node, string host, IContainerPlane plane, IActorRef? replyTo, RelayFactory? relays)
    {
        _node = node;
        _plane = plane;
        _host = host;
        _relays = relays;
        _ns = OsNames.Namespace(host, node.Name);
        _nics = [.. NicBinding.Of(node).Select(n => n.Binding.ContainerVeth(node, n.Nic)).OfType<VethPair>()];
        if (replyTo is not null)
        {
            _waiting.Add(replyTo);
        }

        Receive<Ensured>(OnEnsured);
        Receive<Reconcile>(_ => Ensure());
        Receive<ExecInNode>(Exec);
        Receive<NodeReady>(r => Context.Parent.Forward(r));
        Receive<ApplyImpairment>(a =>
        {
            _impairments[a.Nic] = a with { ReplyTo = null };
            SpyRouting.ToSpy(Context, _node.Name, a.Nic, a, a.ReplyTo);
        });
        Receive<StartCapture>(c => SpyRouting.ToSpy(Context, _node.Name, c.Nic, c, Sender));
        Receive<InjectRelayFault>(f => SpyRouting.ToSpy(Context, _node.Name, f.Nic, f, Sender));
        Receive<Teardown>(t =>
        {
            if (_ensuring)
            {
                // Deleting while iproute2 is still creating would race it; finish the creation first.
                _pendingTeardown = t;
                return;
            }

            Timers.CancelAll();
            var replyTo = t.ReplyTo;
            var name = _node.Name;
            var (plane, ns, hostIfs) = (_plane, _ns, _nics.Select(n => n.HostIf).ToList());
            Task.Run(() => plane.DeleteContainerAsync(ns, hostIfs)).PipeTo(
                Self,
                success: () => new TornDown(replyTo, new TeardownDone($"node {name}", null)),
                failure: ex => new TornDown(replyTo, new TeardownDone($"node {name}", ex.GetBaseException().Message)));
            Become(TearingDown);
        });
    }

    private sealed record Ensured(IReadOnlyList<string> Recreated, string? Error);

    private sealed record TornDown(IActorRef? ReplyTo, TeardownDone Result);

    protected override void PreStart() => Ensure();

    private void Ensure()
    {
        _ensuring = true;
        // The plane looks at /run/netns before it runs anything: on the pool, not on this thread.
        var (plane, ns, nics) = (_plane, _ns, _nics);
        Task.Run(() => plane.EnsureContainerAsync(ns, nics)).PipeTo(Self, success: created => new Ensured(created, null), failure: ex => new Ensured([], ex.GetBaseException().Message));
    }

    private void OnEnsured(Ensured e)
    {
        _ensuring = false;
        if (_pendingTeardown is { } teardown)
        {
            foreach (var w in _waiting)
            {
                w.Tell(new CommandFailed(ErrorCode.Conflict, $"node {_node.Name} was removed while it was being created"));
            }

            _waiting.Clear();
            _pendingTeardown = null;
            Self.Tell(teardown);
            return;
        }

        foreach (var w in _waiting)
        {
            w.Tell(e.Error is null
                ? new CommandSucceeded($"node {_node.Name} ready")
                : new CommandFailed(ErrorCode.DataPlane, $"node {_node.Name}: recorded, but its namespace is not ready yet ({e.Error}); it will be retried"));
        }

        _waiting.Clear();
        if (e.Error is null)
        {
            _failures = 0;
            _ready = true;
            StartSpies();
            Context.Parent.Tell(new NodeReady(_node.Name, e.Recreated));
        }
        else
        {
            var delay = RetryBackoff.Delay(++_failures, TimeSpan.FromSeconds(1), MaxRetryDelay);
            _log.Warning("node {0}: {1}; retrying in {2} s", _node.Name, e.Error, delay.TotalSeconds);
            Timers.StartSingleTimer("retry", Reconcile.Instance, delay);
        }
    }

    /// <summary>The relays of the s nics, once the namespace their inner taps go into exists.</summary>
    private void StartSpies()
    {
        foreach (var nic in NicBinding.Of(_node).Where(n => n.Binding.Relayed).Select(n => n.Nic))
        {
            if (!Context.Child(SpyRouting.ChildName(nic)).IsNobody())
            {
                continue;
            }

            var spy = Context.ActorOf(
                SpyActor.Props(_host, _node, nic, RelayNode.Container(_ns, OsNames.GuestIf(nic)), _relays ?? throw new InvalidOperationException("s nics need a relay factory")),
                SpyRouting.ChildName(nic));
            if (_impairments.TryGetValue(nic, out var impairment))
            {
                spy.Tell(impairment);
            }
        }
    }

    private void Exec(ExecInNode cmd)
    {
        if (!_ready)
        {
            Sender.Tell(new CommandFailed(ErrorCode.Unavailable, $"node {_node.Name} is not ready yet"));
            return;
        }

        _plane.ExecAsync(_ns, cmd.Argv, TimeSpan.FromSeconds(cmd.TimeoutSeconds))
            .PipeTo(Sender, success: r => new ExecResult(r.ExitCode, r.Stdout, r.Stderr, r.TimedOut), failure: ex => new CommandFailed(ErrorCode.DataPlane, ex.GetBaseException().Message));
    }

    private void TearingDown()
    {
        Receive<TornDown>(t =>
        {
            t.ReplyTo?.Tell(t.Result);
            Context.Stop(Self);
        });
        Receive<ExecInNode>(_ => Sender.Tell(new CommandFailed(ErrorCode.NotFound, $"node {_node.Name} is being removed")));
        ReceiveAny(_ => { });
    }
}
