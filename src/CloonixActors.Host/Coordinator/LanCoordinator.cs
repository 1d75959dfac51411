using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using CloonixActors.Domain;
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
/// a node passes here: the coordinator decides against its <see cref="Registry"/>, persists, then hands
/// the per-host part to the host agents, which stay the authority on their own nodes. Hosts report every
/// few seconds (<see cref="HostHello"/>); the registry adopts what they hold, and the coordinator answers
/// with the tunnels each segment must have, so tunnels converge whatever was lost or restarted.
/// </summary>
public sealed class LanCoordinator : JournaledActor<IRegistryEvent>
{
    public const string Id = "lan-coordinator";

    /// <summary>A host that has not said hello for this long is not live (its daemon or agent is gone).</summary>
    private static readonly TimeSpan HelloLost = (HostAgent.HelloPeriod * 3) + TimeSpan.FromSeconds(1);

    /// <summary>Reports from a host that just answered a command may predate it: they are not adopted for this long.</summary>
    private static readonly TimeSpan AdoptQuiet = TimeSpan.FromSeconds(2);

    private readonly CoordinatorSettings _settings;
    private readonly MemberGate _gate = new(Context);
    private readonly LogThrottle _spoofedHellos = new(HelloLost);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, HostLink> _hosts = new(StringComparer.Ordinal);
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly DateTime _started = DateTime.UtcNow;
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly Queue<string> _seenOrder = new();
    private readonly HashSet<string> _stashedIds = new(StringComparer.Ordinal);
    private Registry _registry = Registry.Empty;
    private ImmutableSortedSet<string> _live = ImmutableSortedSet<string>.Empty;
    private bool _warm;

    /// <summary>The project's messages only from this process or the cluster's members (see <see cref="MemberGate"/>).</summary>
    protected override bool AroundReceive(Receive receive, object message) => _gate.Refuses(message, Sender) || base.AroundReceive(receive, message);

    public override string PersistenceId => $"{Id}-{_settings.ClusterId}";

    public static Props Props(CoordinatorSettings settings) => Akka.Actor.Props.Create(() => new LanCoordinator(settings));

    private sealed class HostLink(string name)
    {
        public string Name { get; } = name;

        public IActorRef Agent { get; set; } = ActorRefs.Nobody;

        public Address? Address { get; set; }

        public string TunnelAddress { get; set; } = string.Empty;

        public DateTime LastHello { get; set; }

        public bool Reachable { get; set; } = true;

        public int Pending { get; set; }

        public DateTime LastReply { get; set; }
    }

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    protected override int SnapshotEvery => _settings.SnapshotEvery;

    protected override string JournalOwner => "lan-coordinator";

    protected override void Fold(IRegistryEvent e) => _registry = _registry.Apply(e);

    protected override object TakeSnapshot() => _registry.ToSnapshot();

    protected override void JournalReturned(IReadOnlyList<IRegistryEvent> stored) => PushTunnels(null);

    /// <summary>The answers of the hosts a command went to, and what to record once they are in.</summary>
    private sealed record Dispatched(IActorRef Client, IReadOnlyList<(string Host, IClientReply Reply)> Replies, Func<IReadOnlyList<(string Host, IClientReply Reply)>, Outcome> Conclude);

    /// <summary>What to persist and answer once the hosts answered.</summary>
    private sealed record Outcome(IReadOnlyList<IRegistryEvent> Events, IClientReply Reply, Action? Then = null);

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
        Command<Dispatched>(OnDispatched);
        Command<Tick>(_ =>
        {
            if (!_warm && (AllMembersSaidHello() || DateTime.UtcNow - _started > HelloLost))
            {
                Warm();
            }

            UpdateLive();
        });
        Command<ClusterEvent.UnreachableMember>(m => SetReachable(m.Member.Address, false));
        Command<ClusterEvent.ReachableMember>(m => SetReachable(m.Member.Address, true));
        Command<ClusterEvent.MemberRemoved>(m =>
        {
            // A host back under the same address (a new incarnation) may have said hello before the old
            // incarnation's removal arrives: a link that spoke within a hello period is the new one, kept.
            foreach (var link in _hosts.Values.Where(l => l.Address == m.Member.Address && DateTime.UtcNow - l.LastHello > HostAgent.HelloPeriod).ToList())
            {
                _hosts.Remove(link.Name);
            }

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
    private bool AllMembersSaidHello()
    {
        var known = _hosts.Values.Where(h => h.Address is not null).Select(h => h.Address!).ToHashSet();
        var members = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole("host")).ToList();
        return members.Count > 0 && members.All(m => known.Contains(m.Address));
    }

    private void SetReachable(Address address, bool reachable)
    {
        foreach (var link in _hosts.Values.Where(l => l.Address == address))
        {
            link.Reachable = reachable;
        }

        UpdateLive();
    }

    private ImmutableSortedSet<string> ComputeLive()
    {
        var now = DateTime.UtcNow;
        return _hosts.Values.Where(h => h.Reachable && now - h.LastHello < HelloLost).Select(h => h.Name).ToImmutableSortedSet(StringComparer.Ordinal);
    }

    /// <summary>Recomputes the live hosts; when they changed, every segment gets its tunnels again.</summary>
    private void UpdateLive()
    {
        var live = ComputeLive();
        if (live.SetEquals(_live))
        {
            return;
        }

        var lost = _live.Except(live);
        var back = live.Except(_live);
        _live = live;
        if (!lost.IsEmpty)
        {
            _log.Warning("hosts lost: {0}; their tunnels are removed from the other segments", string.Join(", ", lost));
        }

        if (!back.IsEmpty)
        {
            _log.Info("hosts live: {0}", string.Join(", ", back));
        }

        PushTunnels(null);
    }

    private IReadOnlyDictionary<string, string> LiveTunnelAddresses() =>
        _live.Where(_hosts.ContainsKey).ToDictionary(h => h, h => _hosts[h].TunnelAddress, StringComparer.Ordinal);

    /// <summary>Sends each live segment (of <paramref name="onlyHost"/>, or of every host) the tunnel it must have.</summary>
    private void PushTunnels(string? onlyHost)
    {
        if (!_warm)
        {
            // A coordinator that just started knows only the hosts that have said hello so far: peer lists
            // made now would drop the others' tunnels until they report.
            return;
        }

        var addresses = LiveTunnelAddresses();
        foreach (var lan in _registry.Lans.Values)
        {
            foreach (var host in lan.Hosts.Where(h => (onlyHost is null || h == onlyHost) && _live.Contains(h)))
            {
                _hosts[host].Agent.Tell(new LanTunnel(lan.Name, lan.Vni, [.. _registry.Peers(lan.Name, host, addresses)]));
            }
        }
    }

    private void OnHello(HostHello hello)
    {
        if (Names.Problem(hello.Host, "host") is not null)
        {
            return;
        }

        var address = Sender.Path.Address.HasGlobalScope ? Sender.Path.Address : _cluster.SelfAddress;
        if (_hosts.TryGetValue(hello.Host, out var link) && link.Address is { } bound && bound != address && _gate.IsMember(bound))
        {
            // A host's name belongs to the member that first reported under it, as long as that member is in
            // the cluster: another address claiming it would get the host's commands and rewrite its nodes.
            if (_spoofedHellos.ShouldLog(out var suppressed))
            {
                _log.Warning("refused a hello for host {0} from {1}: that host is member {2}{3}", hello.Host, address, bound, LogThrottle.Suffix(suppressed, HelloLost));
            }

            return;
        }

        if (link is null)
        {
            link = new HostLink(hello.Host);
            _hosts[hello.Host] = link;
        }

        link.Agent = Sender;
        link.Address = address;
        link.TunnelAddress = hello.TunnelAddress ?? string.Empty;
        link.LastHello = DateTime.UtcNow;
        link.Reachable = true;
        var wasLive = _live.Contains(hello.Host);
        UpdateLive();
        if (link.Pending == 0 && DateTime.UtcNow - link.LastReply > AdoptQuiet)
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
            if (_seen.Contains(routed.RequestId) && !_stashedIds.Remove(routed.RequestId))
            {
                return; // a resend of a request already in hand
            }

            if (_seen.Add(routed.RequestId))
            {
                _seenOrder.Enqueue(routed.RequestId);
                if (_seenOrder.Count > 10000)
                {
                    _seen.Remove(_seenOrder.Dequeue());
                }
            }
        }

        if (!_warm)
        {
            // Just started (or moved here): wait until the hosts have reported, so placement sees them all.
            if (!string.IsNullOrEmpty(routed.RequestId))
            {
                _stashedIds.Add(routed.RequestId);
            }

            Stash.Stash();
            return;
        }

        var client = Sender;
        switch (routed.Command)
        {
            case AddLan c:
                Decided(_registry.AddLan(c.Name, c.Host, _live), client, events =>
                {
                    if (events.Length < 2)
                    {
                        client.Tell(new CommandSucceeded($"lan {c.Name} added (VXLAN id {((LanRegistered)events[0]).Vni}); its bridges appear on the hosts of its members"));
                        return;
                    }

                    var host = ((LanSegmentAdded)events[1]).Host;
                    Dispatch(client, [(host, new AddLan(c.Name))], replies => replies[0].Reply is CommandFailed { Code: not ErrorCode.DataPlane } f
                        ? new Outcome([new LanSegmentRemoved(c.Name, host), new LanUnregistered(c.Name)], f)
                        : new Outcome([], OnHost(replies[0].Reply, host)));
                });
                break;
            case AddContainer c:
                Place(c.Name, c.Host, client, host => c with { Host = null });
                break;
            case AddVm c:
                Place(c.Name, c.Host, client, host => c with { Host = null });
                break;
            case DeleteObject c:
                Delete(c, client);
                break;
            case ConnectNic c:
                Connect(c, client);
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
                Deploy(c, client);
                break;
            case PurgeAll:
                Purge(client);
                break;
            case ListTopology:
                List(client);
                break;
            default:
                client.Tell(new CommandFailed(ErrorCode.InvalidArgument, $"the coordinator does not handle {routed.Command?.GetType().Name ?? "an empty command"}"));
                break;
        }
    }

    /// <summary>With several hosts, a success says where the object went.</summary>
    private IClientReply OnHost(IClientReply hostReply, string host) =>
        hostReply is CommandSucceeded s && _hosts.Count > 1 ? new CommandSucceeded($"{s.Message} on host {host}") : hostReply;

    /// <summary>Persists an accepted decision, then carries on; a refusal goes straight to the client.</summary>
    private void Decided(RegistryDecision decision, IActorRef client, Action<ImmutableArray<IRegistryEvent>> then)
    {
        if (decision.Rejection is { } rejected)
        {
            client.Tell(rejected);
            return;
        }

        Record(decision.Events, () => then(decision.Events), client.Tell);
    }

    private void Place(string name, string? host, IActorRef client, Func<string, IClientCommand> command) =>
        Decided(_registry.PlaceNode(name, host, _live), client, events =>
        {
            var chosen = ((NodePlaced)events[0]).Host;
            Dispatch(client, [(chosen, command(chosen))], replies => replies[0].Reply is CommandFailed f && f.Code != ErrorCode.DataPlane
                ? new Outcome([new NodeUnplaced(name)], f)
                : new Outcome([], OnHost(replies[0].Reply, chosen)));
        });

    private CommandFailed? Unreachable(string host, string what) =>
        _live.Contains(host) ? null : new CommandFailed(ErrorCode.Unavailable, $"host '{host}' holding {what} is not reachable; retry when it is back");

    private void ToNodeHost(string node, IClientCommand command, IActorRef client)
    {
        if (Names.Problem(node, "node") is { } problem)
        {
            client.Tell(new CommandFailed(ErrorCode.InvalidArgument, problem));
        }
        else if (_registry.HostOf(node) is not { } host)
        {
            client.Tell(new CommandFailed(ErrorCode.NotFound, _registry.Lans.ContainsKey(node) ? $"'{node}' is a lan, not a node" : $"no node named '{node}'"));
        }
        else if (Unreachable(host, $"node {node}") is { } down)
        {
            client.Tell(down);
        }
        else
        {
            _hosts[host].Agent.Tell(command, client);
        }
    }

    private void Delete(DeleteObject c, IActorRef client)
    {
        if (Names.Problem(c.Name, "object") is { } problem)
        {
            client.Tell(new CommandFailed(ErrorCode.InvalidArgument, problem));
            return;
        }

        if (_registry.HostOf(c.Name) is { } host)
        {
            if (Unreachable(host, $"node {c.Name}") is { } down)
            {
                client.Tell(down);
                return;
            }

            Dispatch(client, [(host, c)], replies => replies[0].Reply is CommandSucceeded
                ? new Outcome([new NodeUnplaced(c.Name)], replies[0].Reply)
                : new Outcome([], replies[0].Reply));
            return;
        }

        if (!_registry.Lans.TryGetValue(c.Name, out var lan))
        {
            client.Tell(new CommandFailed(ErrorCode.NotFound, $"no node or lan named '{c.Name}'"));
            return;
        }

        if (lan.Hosts.FirstOrDefault(h => !_live.Contains(h)) is { } away)
        {
            client.Tell(Unreachable(away, $"a segment of lan {c.Name}")!);
            return;
        }

        Dispatch(client, [.. lan.Hosts.Select(h => (h, (IClientCommand)c))], replies =>
        {
            var removed = replies.Where(r => r.Reply is CommandSucceeded or CommandFailed { Code: ErrorCode.NotFound }).Select(r => r.Host).ToList();
            var events = removed.Select(h => (IRegistryEvent)new LanSegmentRemoved(c.Name, h)).ToList();
            if (removed.Count == replies.Count)
            {
                events.Add(new LanUnregistered(c.Name));
                return new Outcome(events, new CommandSucceeded($"{c.Name} deleted"));
            }

            return new Outcome(events, First(replies));
        });
    }

    private void Connect(ConnectNic c, IActorRef client)
    {
        if (Names.Problem(c.Node, "node") is { } problem)
        {
            client.Tell(new CommandFailed(ErrorCode.InvalidArgument, problem));
            return;
        }

        if (_registry.HostOf(c.Node) is not { } host)
        {
            client.Tell(new CommandFailed(ErrorCode.NotFound, _registry.Lans.ContainsKey(c.Node) ? $"'{c.Node}' is a lan, not a node" : $"no node named '{c.Node}'"));
            return;
        }

        if (Names.Problem(c.Lan, "lan") is { } lanProblem)
        {
            client.Tell(new CommandFailed(ErrorCode.InvalidArgument, lanProblem));
            return;
        }

        if (Unreachable(host, $"node {c.Node}") is { } down)
        {
            client.Tell(down);
            return;
        }

        Decided(_registry.EnsureSegment(c.Lan, host), client, events =>
        {
            var agent = _hosts[host].Agent;
            var timeout = AskTimeout;
            var newSegment = events.Length > 0;
            _hosts[host].Pending++;
            var work = Task.Run(async () =>
            {
                if (newSegment)
                {
                    var made = await AskHost(agent, new AddLan(c.Lan), timeout).ConfigureAwait(false);
                    if (made is CommandFailed { Code: not ErrorCode.AlreadyExists } f)
                    {
                        return (Reply: (IClientReply)f, SegmentRefused: f.Code != ErrorCode.DataPlane);
                    }
                }

                return (Reply: await AskHost(agent, c, timeout).ConfigureAwait(false), SegmentRefused: false);
            });
            work.PipeTo(Self, success: r => new Dispatched(client, [(host, r.Reply)], _ => r.SegmentRefused
                ? new Outcome([new LanSegmentRemoved(c.Lan, host)], r.Reply)
                : new Outcome([], r.Reply)));
        });
    }

    /// <summary>
    /// A topology over several hosts: checked whole first (names, nic ranges, endpoints) against a scratch
    /// topology holding the cluster's names, then nodes are placed, the registry records it all, and each
    /// host deploys its part (its own all-or-nothing). A host that refuses its part is rolled out of the registry.
    /// </summary>
    private void Deploy(DeployTopology c, IActorRef client)
    {
        var scratch = Topology.Empty.ApplyAll(
            _registry.Lans.Keys.Select((l, i) => (ITopologyEvent)new LanAdded(l, i + 1))
                .Concat(_registry.Nodes.Keys.Select((n, i) => (ITopologyEvent)new ContainerAdded(n, _registry.Lans.Count + i + 1, Topology.MaxNics))));
        var check = scratch.Decide(c with { Host = null });
        if (check.Rejection is { } rejected)
        {
            client.Tell(rejected);
            return;
        }

        var nodes = (c.Containers ?? []).Select(n => (n.Name, n.Host)).Concat((c.Vms ?? []).Select(v => (v.Name, v.Host))).ToList();
        var named = nodes.Select(n => n.Host).Concat((c.LanHosts ?? []).Select(l => l?.Host)).Append(c.Host).OfType<string>();
        if (named.FirstOrDefault(h => !_live.Contains(h)) is { } wanted)
        {
            client.Tell(new CommandFailed(ErrorCode.Unavailable, $"host '{Names.Printable(wanted)}' is not a live member of the cluster"));
            return;
        }

        if (_live.IsEmpty)
        {
            client.Tell(new CommandFailed(ErrorCode.Unavailable, "no host is live in the cluster yet"));
            return;
        }

        var state = _registry;
        var events = new List<IRegistryEvent>();
        void Add(IRegistryEvent e)
        {
            events.Add(e);
            state = state.Apply(e);
        }

        var placed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var host = node.Host ?? c.Host ?? state.LeastLoaded(_live)!;
            placed[node.Name] = host;
            Add(new NodePlaced(node.Name, host));
        }

        foreach (var lan in (c.Lans ?? []).Where(l => !state.Lans.ContainsKey(l)))
        {
            Add(new LanRegistered(lan, state.NextVni));
        }

        var endpoints = c.Endpoints ?? [];
        var segments = endpoints.Select(e => (Lan: e.Lan, Host: state.HostOf(e.Node)!)).ToList();
        // A lan without members gets a bridge only where nodes were asked to go (as `add lan` does).
        if ((c.Host ?? (_live.Count == 1 ? _live[0] : null)) is { } firstHome)
        {
            segments.AddRange((c.Lans ?? []).Where(l => !endpoints.Any(e => e.Lan == l) && state.Lans[l].Hosts.IsEmpty && !(c.LanHosts ?? []).Any(p => p?.Lan == l)).Select(l => (l, firstHome)));
        }

        if ((c.LanHosts ?? []).Any(p => p?.Lan is null || p.Host is null || !state.Lans.ContainsKey(p.Lan)))
        {
            client.Tell(new CommandFailed(ErrorCode.NotFound, "a lan host names no lan of this topology or of the cluster"));
            return;
        }

        segments.AddRange((c.LanHosts ?? []).Select(p => (p.Lan, p.Host)));

        var newSegments = segments.Distinct().Where(s => !state.Lans[s.Lan].Hosts.Contains(s.Host)).ToList();
        foreach (var (lan, host) in newSegments)
        {
            Add(new LanSegmentAdded(lan, host));
        }

        var impairments = c.Impairments ?? [];
        var hosts = placed.Values.Concat(newSegments.Select(s => s.Host)).Concat(endpoints.Select(e => state.HostOf(e.Node)!)).Concat(impairments.Select(i => state.HostOf(i.Node)!)).Distinct().Order(StringComparer.Ordinal).ToList();
        if (hosts.FirstOrDefault(h => !_live.Contains(h)) is { } away)
        {
            client.Tell(Unreachable(away, "nodes of this topology")!);
            return;
        }

        var parts = hosts.Select(h => (h, (IClientCommand)new DeployTopology(
            [.. newSegments.Where(s => s.Host == h).Select(s => s.Lan)],
            [.. (c.Containers ?? []).Where(n => placed[n.Name] == h)],
            [.. endpoints.Where(e => state.HostOf(e.Node) == h)],
            Vms: [.. (c.Vms ?? []).Where(v => placed[v.Name] == h)],
            Impairments: [.. impairments.Where(i => state.HostOf(i.Node) == h)]))).ToList();
        var newLans = (c.Lans ?? []).Where(l => !_registry.Lans.ContainsKey(l)).ToList();
        Record(events, () => Dispatch(client, parts, replies =>
        {
            // A host that recorded its part but could not apply all of it yet (DataPlane) keeps reconciling: not a refusal.
            var failed = replies.Where(r => r.Reply is CommandFailed { Code: not ErrorCode.DataPlane }).Select(r => r.Host).ToHashSet(StringComparer.Ordinal);
            if (failed.Count == 0)
            {
                return new Outcome([], new CommandSucceeded($"deployed {c.Lans?.Length ?? 0} lan(s), {nodes.Count} node(s), {endpoints.Length} endpoint(s) on {hosts.Count} host(s)"));
            }

            // All or nothing across hosts: the registry forgets every part, and the hosts that applied theirs remove it.
            var undo = placed.Keys.Select(n => (IRegistryEvent)new NodeUnplaced(n))
                .Concat(newSegments.Select(s => (IRegistryEvent)new LanSegmentRemoved(s.Lan, s.Host)))
                .Concat(newLans.Select(l => (IRegistryEvent)new LanUnregistered(l)))
                .ToList();
            var agents = replies.Where(r => !failed.Contains(r.Host) && _hosts.ContainsKey(r.Host)).Select(r => (r.Host, _hosts[r.Host].Agent)).ToList();
            // With a sender (their answers are dropped here): an agent refuses what comes without one (MemberGate).
            var self = Self;
            void RollBack()
            {
                foreach (var (host, agent) in agents)
                {
                    foreach (var node in placed.Where(p => p.Value == host).Select(p => p.Key))
                    {
                        agent.Tell(new DeleteObject(node, Force: true), self);
                    }

                    foreach (var lan in newSegments.Where(s => s.Host == host).Select(s => s.Lan))
                    {
                        agent.Tell(new DeleteObject(lan, Force: true), self);
                    }
                }
            }

            var first = replies.First(r => failed.Contains(r.Host));
            var refusal = (CommandFailed)first.Reply;
            return new Outcome(undo, refusal with { Message = $"host {first.Host}: {refusal.Message} (nothing of the topology was kept)" }, RollBack);
        }), client.Tell);
    }

    private void Purge(IActorRef client)
    {
        var hosts = _live.ToList();
        if (hosts.Count == 0)
        {
            client.Tell(new CommandFailed(ErrorCode.Unavailable, "no host is live in the cluster yet"));
            return;
        }

        Dispatch(client, [.. hosts.Select(h => (h, (IClientCommand)new PurgeAll()))], replies =>
        {
            var done = replies.Where(r => r.Reply is CommandSucceeded).Select(r => r.Host).ToHashSet(StringComparer.Ordinal);
            var state = _registry;
            var events = new List<IRegistryEvent>();
            foreach (var e in done.SelectMany(h => state.NodesOn(h).Select(n => (IRegistryEvent)new NodeUnplaced(n))
                .Concat(state.SegmentsOn(h).Select(l => (IRegistryEvent)new LanSegmentRemoved(l.Name, h)))).ToList())
            {
                events.Add(e);
                state = state.Apply(e);
            }

            events.AddRange(state.Lans.Values.Where(l => l.Hosts.IsEmpty).Select(l => (IRegistryEvent)new LanUnregistered(l.Name)));
            var away = _registry.Nodes.Values.Concat(_registry.Lans.Values.SelectMany(l => l.Hosts)).Where(h => !hosts.Contains(h)).Distinct().ToList();
            IClientReply reply = replies.Count == 1 && away.Count == 0
                ? replies[0].Reply
                : done.Count == replies.Count
                    ? new CommandSucceeded($"purged {done.Count} host(s){(away.Count > 0 ? $"; unreachable, not purged: {string.Join(", ", away)}" : string.Empty)}")
                    : First(replies);
            return new Outcome(events, reply);
        });
    }

    private void List(IActorRef client)
    {
        var hosts = _live.Where(_hosts.ContainsKey).Select(h => (h, _hosts[h].Agent)).ToList();
        var timeout = TimeSpan.FromSeconds(10);
        var registry = _registry;
        var live = _live;
        var system = Context.System;
        Task.WhenAll(hosts.Select(async h =>
        {
            try
            {
                return await h.Agent.Ask<IClientReply>(new ListTopology(), timeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
            {
                return new TopologyListing([], []);
            }
        })).ContinueWith(
            t =>
            {
                var replies = t.IsCompletedSuccessfully ? t.Result : [];
                if (replies.OfType<CommandFailed>().FirstOrDefault() is { } failed)
                {
                    return failed; // a host's part too large for a frame: the whole would be too
                }

                var listings = replies.OfType<TopologyListing>().ToList();
                var nodes = listings.SelectMany(l => l.Nodes)
                    .Concat(registry.Nodes.Where(n => !live.Contains(n.Value)).Select(n => new NodeView(n.Key, "unreachable", n.Value, string.Empty, [])))
                    .OrderBy(n => n.Name, StringComparer.Ordinal);
                var lans = listings.SelectMany(l => l.Lans)
                    .Select(l => registry.Lans.TryGetValue(l.Name, out var e) ? l with { Vni = e.Vni } : l)
                    .Concat(registry.Lans.Values.Where(l => l.Hosts.IsEmpty).Select(l => new LanView(l.Name, string.Empty, string.Empty, [], l.Vni, 0)))
                    .OrderBy(l => l.Name, StringComparer.Ordinal).ThenBy(l => l.Host, StringComparer.Ordinal);
                return ReplyFrame.Fit(system, new TopologyListing([.. nodes], [.. lans]));
            },
            TaskScheduler.Default).PipeTo(client);
    }

    private TimeSpan AskTimeout => _settings.CommandTimeout + TimeSpan.FromSeconds(10);

    private static async Task<IClientReply> AskHost(IActorRef agent, IClientCommand command, TimeSpan timeout)
    {
        try
        {
            return await agent.Ask<IClientReply>(command, timeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
        {
            return new CommandFailed(ErrorCode.DataPlane, $"no answer from the host within {timeout.TotalSeconds:0} s; the registry follows the host's next report");
        }
    }

    /// <summary>Sends each host its part, off the actor thread; the answers come back as <see cref="Dispatched"/>.</summary>
    private void Dispatch(IActorRef client, IReadOnlyList<(string Host, IClientCommand Command)> parts, Func<IReadOnlyList<(string Host, IClientReply Reply)>, Outcome> conclude)
    {
        var timeout = AskTimeout;
        var asks = parts.Select(p =>
        {
            if (!_live.Contains(p.Host) || !_hosts.TryGetValue(p.Host, out var link))
            {
                return Task.FromResult((p.Host, (IClientReply)new CommandFailed(ErrorCode.Unavailable, $"host '{p.Host}' is not reachable")));
            }

            link.Pending++;
            var agent = link.Agent;
            return AskHost(agent, p.Command, timeout).ContinueWith(t => (p.Host, t.Result), TaskScheduler.Default);
        }).ToList();
        Task.WhenAll(asks).PipeTo(Self, success: replies => new Dispatched(client, replies, conclude));
    }

    private void OnDispatched(Dispatched d)
    {
        foreach (var (host, _) in d.Replies)
        {
            if (_hosts.TryGetValue(host, out var link))
            {
                link.Pending = Math.Max(0, link.Pending - 1);
                link.LastReply = DateTime.UtcNow;
            }
        }

        var outcome = d.Conclude(d.Replies);
        Record(
            outcome.Events,
            () =>
            {
                d.Client.Tell(outcome.Reply);
                outcome.Then?.Invoke();
                PushTunnels(null);
            },
            refusal =>
            {
                // The hosts did their part; only the registry could not record it: it follows their next reports.
                d.Client.Tell(outcome.Reply is CommandSucceeded s
                    ? new CommandFailed(ErrorCode.Unavailable, $"{s.Message}, but the cluster's registry could not record it ({refusal.Message.Split(';')[0]}); it follows the hosts' reports once the journal answers")
                    : outcome.Reply);
                outcome.Then?.Invoke();
            });
    }

    private static IClientReply First(IReadOnlyList<(string Host, IClientReply Reply)> replies) =>
        replies.FirstOrDefault(r => r.Reply is CommandFailed) is { Reply: CommandFailed f } failed
            ? replies.Count > 1 ? f with { Message = $"host {failed.Host}: {f.Message}" } : f
            : replies[0].Reply;

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
        var hosts = _hosts.Values.OrderBy(h => h.Name, StringComparer.Ordinal).Select(h => new HostView(
            h.Name,
            h.Address?.ToString() ?? string.Empty,
            _live.Contains(h.Name) ? "live" : !h.Reachable ? "unreachable" : $"silent for {(now - h.LastHello).TotalSeconds:0} s",
            h.TunnelAddress,
            _registry.Load(h.Name),
            _registry.SegmentsOn(h.Name).Count()));
        return new CoordinatorView(_settings.HostName, _cluster.SelfAddress.ToString(), [.. hosts], _registry.Lans.Count, JournalWatch.Health.Describe(now));
    }
}
