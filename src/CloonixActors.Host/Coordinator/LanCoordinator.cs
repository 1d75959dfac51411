using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using CloonixActors.Domain;
using CloonixActors.Domain.Plans;
using CloonixActors.Host.Coordinator.Requests;
using CloonixActors.Host.Persistence;
using CloonixActors.Protocol;
using CloonixActors.Protocol.Wire;

namespace CloonixActors.Host.Coordinator;

/// <param name="HostName">The host this incarnation of the singleton runs on (shown by `status`).</param>
/// <param name="ClusterId">Names the cluster's journal stream, so clusters sharing one database never mix their registries.</param>
public sealed record CoordinatorSettings(string HostName, TimeSpan CommandTimeout, int SnapshotEvery = 100, string ClusterId = "default");

/// <summary>
/// The lan-coordinator: one per cluster (a singleton on the oldest host, under a back-off supervisor).
/// Owns the cluster-wide names, the lans with their VXLAN ids and segment hosts, placement of new nodes,
/// and the tunnels between segments. Every client command that changes the topology, lists it or runs in
/// a node passes here: the coordinator plans it against its <see cref="Registry"/> (the plans in
/// <see cref="CloonixActors.Domain.Plans"/>), records what the plan reserves, then a child
/// <see cref="HostRequest"/> hands each host agent its part (the agents stay the authority on their own
/// nodes) and brings back the outcome, which is recorded before the client hears it. Hosts report every
/// few seconds (<see cref="HostHello"/>, kept by <see cref="HostLiveness"/>); the registry adopts what they
/// hold, and the coordinator answers with the tunnels each segment must have (<see cref="Tunnels"/>), so
/// tunnels converge whatever was lost or restarted.
/// </summary>
public sealed class LanCoordinator : JournaledActor<IRegistryEvent>
{
    public const string Id = "lan-coordinator";

    /// <summary>A host's listing that takes longer than this is left out (`list` shows what answered).</summary>
    private static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(10);

    private readonly CoordinatorSettings _settings;
    private readonly MemberGate _gate = new(Context);
    private readonly LogThrottle _spoofedHellos = new(HostLiveness.HelloLost);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HostLiveness _hosts = new();
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly DateTime _started = DateTime.UtcNow;
    private readonly ResentRequests _resent = new();

    /// <summary>The requests under way and the hosts each holds back from adopting reports.</summary>
    private readonly Dictionary<IActorRef, ImmutableArray<string>> _requests = [];
    private Registry _registry = Registry.Empty;
    private bool _warm;

    /// <summary>The project's messages only from this process or the cluster's members (see <see cref="MemberGate"/>).</summary>
    protected override bool AroundReceive(Receive receive, object message) => _gate.Refuses(message, Sender) || base.AroundReceive(receive, message);

    public override string PersistenceId => $"{Id}-{_settings.ClusterId}";

    public static Props Props(CoordinatorSettings settings) => Akka.Actor.Props.Create(() => new LanCoordinator(settings));

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    protected override int SnapshotEvery => _settings.SnapshotEvery;

    protected override string JournalOwner => "lan-coordinator";

    protected override void Fold(IRegistryEvent e) => _registry = _registry.Apply(e);

    protected override object TakeSnapshot() => _registry.ToSnapshot();

    protected override void JournalReturned(IReadOnlyList<IRegistryEvent> stored) => PushTunnels(null);

    private ImmutableSortedSet<string> Live => _hosts.Live;

    private TimeSpan CommandTimeout => _settings.CommandTimeout + TimeSpan.FromSeconds(10);

    public LanCoordinator(CoordinatorSettings settings)
    {
        _settings = settings;
        Recover<SnapshotOffer>(o =>
        {
            if (o.Snapshot is RegistrySnapshot s)
            {
                _registry = Registry.FromSnapshot(s);
            }
        });
        Recover<IRegistryEvent>(Fold);
        Recover<RecoveryCompleted>(_ =>
        {
            _log.Info("lan-coordinator on {0}: {1} lan(s), {2} node(s) recovered", settings.HostName, _registry.Lans.Count, _registry.Nodes.Count);
            Recovered();
            _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
            Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(1));
        });

        Command<HostHello>(OnHello);
        Command<Routed>(OnRouted);
        Command<GetCoordinatorView>(_ => ReplyView());
        Command<HostRequest.Concluded>(OnConcluded);
        Command<Terminated>(t => Ended(t.ActorRef));
        Command<Tick>(_ =>
        {
            if (!_warm && (AllMembersSaidHello() || DateTime.UtcNow - _started > HostLiveness.HelloLost))
            {
                Warm();
            }

            UpdateLive();
        });
        Command<ClusterEvent.UnreachableMember>(m => SetReachable(m.Member.Address, false));
        Command<ClusterEvent.ReachableMember>(m => SetReachable(m.Member.Address, true));
        Command<ClusterEvent.MemberRemoved>(m =>
        {
            _hosts.Removed(m.Member.Address, DateTime.UtcNow);
            UpdateLive();
        });
        Command<ClusterEvent.IMemberEvent>(_ => { });
        Command<IClientReply>(_ => { }); // the answers to a roll-back's deletions
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        base.PostStop();
    }

    private void Warm()
    {
        _warm = true;
        Stash.UnstashAll();
        PushTunnels(null);
    }

    /// <summary>Every Up member with the host role has reported: the coordinator knows the whole cluster.</summary>
    private bool AllMembersSaidHello() =>
        _hosts.AllSaidHello([.. _cluster.State.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole("host")).Select(m => m.Address)]);

    private void SetReachable(Address address, bool reachable)
    {
        _hosts.SetReachable(address, reachable);
        UpdateLive();
    }

    /// <summary>Recomputes the live hosts; when they changed, every segment gets its tunnels again.</summary>
    private void UpdateLive()
    {
        if (_hosts.Update(DateTime.UtcNow) is not { } change)
        {
            return;
        }

        if (!change.Lost.IsEmpty)
        {
            _log.Warning("hosts lost: {0}; their tunnels are removed from the other segments", string.Join(", ", change.Lost));
        }

        if (!change.Back.IsEmpty)
        {
            _log.Info("hosts live: {0}", string.Join(", ", change.Back));
        }

        PushTunnels(null);
    }

    /// <summary>Sends each live segment (of <paramref name="onlyHost"/>, or of every host) the tunnel it must have.</summary>
    private void PushTunnels(string? onlyHost)
    {
        if (!_warm)
        {
            // A coordinator that just started knows only the hosts that have said hello so far: peer lists
            // made now would drop the others' tunnels until they report.
            return;
        }

        foreach (var (host, tunnel) in Tunnels.For(_registry, Live, _hosts.LiveTunnelAddresses(), onlyHost))
        {
            _hosts.AgentOf(host)?.Tell(tunnel);
        }
    }

    private void OnHello(HostHello hello)
    {
        if (Names.Problem(hello.Host, "host") is not null)
        {
            return;
        }

        var address = Sender.Path.Address.HasGlobalScope ? Sender.Path.Address : _cluster.SelfAddress;
        var now = DateTime.UtcNow;
        if (!_hosts.Hello(hello.Host, Sender, address, hello.TunnelAddress, now, _gate.IsMember, out var bound))
        {
            if (_spoofedHellos.ShouldLog(out var suppressed))
            {
                _log.Warning("refused a hello for host {0} from {1}: that host is member {2}{3}", hello.Host, address, bound, LogThrottle.Suffix(suppressed, HostLiveness.HelloLost));
            }

            return;
        }

        var wasLive = Live.Contains(hello.Host);
        UpdateLive();
        if (_hosts.MayAdopt(hello.Host, now))
        {
            var adopt = _registry.Adopt(hello.Host, hello.Nodes ?? [], hello.Segments ?? []);
            if (adopt.Events.Length > 0)
            {
                _log.Info("registry follows host {0}: {1}", hello.Host, string.Join(", ", adopt.Events.Select(e => e.ToString())));
                Record(adopt.Events, () => PushTunnels(null), _ => { });
                return;
            }
        }

        if (wasLive)
        {
            PushTunnels(hello.Host);
        }

        if (!_warm && AllMembersSaidHello())
        {
            Warm();
        }
    }

    private void OnRouted(Routed routed)
    {
        if (!string.IsNullOrEmpty(routed.RequestId))
        {
            Sender.Tell(new RoutedAck(routed.RequestId));
            if (!_resent.Carry(routed.RequestId))
            {
                return; // a resend of a request already in hand
            }
        }

        if (!_warm)
        {
            // Just started (or moved here): wait until the hosts have reported, so placement sees them all.
            if (!string.IsNullOrEmpty(routed.RequestId))
            {
                _resent.Stashed(routed.RequestId);
            }

            Stash.Stash();
            return;
        }

        var client = Sender;
        var severalHosts = _hosts.Count > 1;
        switch (routed.Command)
        {
            case AddLan c:
                Run(AddLanPlan.Plan(_registry, c, Live, severalHosts), client);
                break;
            case AddContainer c:
                Run(PlaceNodePlan.Plan(_registry, c.Name, c.Host, c with { Host = null }, Live, severalHosts), client);
                break;
            case AddVm c:
                Run(PlaceNodePlan.Plan(_registry, c.Name, c.Host, c with { Host = null }, Live, severalHosts), client);
                break;
            case DeleteObject c:
                Run(DeletePlan.Plan(_registry, c, Live), client);
                break;
            case ConnectNic c:
                Run(ConnectPlan.Plan(_registry, c, Live), client);
                break;
            case DisconnectNic c:
                ToNodeHost(c.Node, c, client);
                break;
            case ExecInNode c:
                ToNodeHost(c.Node, c, client);
                break;
            case ISpyCommand c:
                // Captures, impairments and fault injection belong to the relay on the node's host.
                ToNodeHost(c.Node, c, client);
                break;
            case DeployTopology c:
                Run(DeployPlan.Plan(_registry, c, Live), client);
                break;
            case PurgeAll:
                Run(PurgePlan.Plan(_registry, Live), client);
                break;
            case ListTopology:
                Start(new ListPlan(_registry, [.. Live]), client);
                break;
            default:
                client.Tell(new CommandFailed(ErrorCode.InvalidArgument, $"the coordinator does not handle {routed.Command?.GetType().Name ?? "an empty command"}"));
                break;
        }
    }

    /// <summary>A command for one node goes to the node's host, which answers the client itself.</summary>
    private void ToNodeHost(string node, IClientCommand command, IActorRef client)
    {
        var (host, refused) = NodeRoute.Of(_registry, node, Live);
        if (refused is not null)
        {
            client.Tell(refused);
        }
        else
        {
            _hosts.AgentOf(host!)!.Tell(command, client);
        }
    }

    /// <summary>A planned request: refused, or what it reserves recorded, then answered or handed to its hosts.</summary>
    private void Run(RequestPlan plan, IActorRef client)
    {
        if (plan.Rejection is { } rejected)
        {
            client.Tell(rejected);
            return;
        }

        Record(
            plan.Events,
            () =>
            {
                if (plan.Hosts is { } hosts)
                {
                    Start(hosts, client);
                }
                else
                {
                    client.Tell(plan.Reply!);
                }
            },
            client.Tell);
    }

    /// <summary>Hands the plan's hosts their parts through a child; the hosts it changes report nothing adopted until it concludes.</summary>
    private void Start(HostPlan plan, IActorRef client)
    {
        var hosts = plan.Parts.Select(p => p.Host).ToList();
        var agents = _hosts.LiveAgents(hosts);
        var request = Context.ActorOf(HostRequest.Props(plan, client, agents, plan.ReadOnly ? ListTimeout : CommandTimeout));
        if (plan.ReadOnly)
        {
            return;
        }

        var held = hosts.Where(agents.ContainsKey).ToImmutableArray();
        _hosts.Began(held);
        _requests[request] = held;
        Context.Watch(request);
    }

    /// <summary>A request concluded or stopped: its hosts' reports are adopted again.</summary>
    private void Ended(IActorRef request)
    {
        if (_requests.Remove(request, out var held))
        {
            Context.Unwatch(request);
            _hosts.Ended(held, DateTime.UtcNow);
        }
    }

    /// <summary>Records what the hosts did, answers the client, then sends the undo of a request that was not kept.</summary>
    private void OnConcluded(HostRequest.Concluded concluded)
    {
        Ended(Sender);
        var (client, outcome) = (concluded.Client, concluded.Outcome);
        Record(
            outcome.Events,
            () =>
            {
                client.Tell(outcome.Reply);
                Undo(outcome.Undo);
                PushTunnels(null);
            },
            refusal =>
            {
                // The hosts did their part; only the registry could not record it: it follows their next reports.
                client.Tell(outcome.Reply is CommandSucceeded s
                    ? new CommandFailed(ErrorCode.Unavailable, $"{s.Message}, but the cluster's registry could not record it ({refusal.Message.Split(';')[0]}); it follows the hosts' reports once the journal answers")
                    : outcome.Reply);
                Undo(outcome.Undo);
            });
    }

    /// <summary>With a sender (their answers are dropped here): an agent refuses what comes without one (MemberGate).</summary>
    private void Undo(ImmutableArray<HostPart> undo)
    {
        foreach (var part in undo)
        {
            _hosts.KnownAgentOf(part.Host)?.Tell(part.Command, Self);
        }
    }

    /// <summary>The view for `status`; a journal not known to fail is read first, so an outage shows before a change is refused.</summary>
    private void ReplyView()
    {
        var view = View();
        if (JournalWatch.Health.IsDown)
        {
            Sender.Tell(view);
            return;
        }

        var self = Self;
        var health = JournalWatch.Health;
        JournalCheck.ProblemAsync(Context.System, PersistenceId, TimeSpan.FromSeconds(3)).PipeTo(Sender, success: problem =>
        {
            if (problem is null)
            {
                return view;
            }

            self.Tell(new JournalStillDown(problem), ActorRefs.NoSender);
            return view with { Journal = health.Failed(problem, DateTime.UtcNow).Describe(DateTime.UtcNow) };
        });
    }

    private CoordinatorView View()
    {
        var now = DateTime.UtcNow;
        var hosts = _hosts.Describe(now).Select(h => new HostView(h.Name, h.Address, h.State, h.TunnelAddress, _registry.Load(h.Name), _registry.SegmentsOn(h.Name).Count()));
        return new CoordinatorView(_settings.HostName, _cluster.SelfAddress.ToString(), [.. hosts], _registry.Lans.Count, JournalWatch.Health.Describe(now));
    }
}
