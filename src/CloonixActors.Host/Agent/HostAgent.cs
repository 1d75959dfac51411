using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.DataPlane.Reconcile;
using CloonixActors.Domain;
using CloonixActors.Host.Persistence;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Agent;

public sealed record HostSettings(
    string HostName,
    string StateDir,
    string Persistence,
    int SnapshotEvery = 100,
    TimeSpan? CommandTimeout = null,
    bool FaultInjection = false)
{
    public TimeSpan Timeout => CommandTimeout ?? TimeSpan.FromSeconds(60);
}

/// <summary>The data-plane adapters a host agent drives; tests give fakes, the daemon the real ones.</summary>
public sealed record HostPlane(
    IOvsSwitch Ovs,
    IContainerPlane Containers,
    Props OvsProps,
    string Datapath,
    IVmPlane? Vms = null,
    VmEnvironment? VmEnv = null,
    HostFacts? Facts = null,
    ITunnelPlane? Tunnels = null,
    TunnelSettings? Tunnel = null);

/// <summary>
/// The aggregate of this host. The desired topology is event-sourced here: a command is decided against
/// the state, its events are persisted (<see cref="JournaledActor{TEvent}"/>), folded in, and only then do
/// child actors carry out the effects on the OS. After a restart the journal rebuilds the state, children
/// adopt what exists, and a sweep (<see cref="LeftoverPlan"/>) removes what the state no longer wants, so
/// the data plane always converges on the journal. Listings and status (<see cref="HostStatus"/>), the
/// checks of exec and spy requests (<see cref="ExecRequests"/>, <see cref="SpyRequests"/>) and images
/// (<see cref="VmImages"/>) live next to it; the agent only routes to them.
/// </summary>
public sealed class HostAgent : JournaledActor<ITopologyEvent>
{
    /// <summary>How often the agent tells the lan-coordinator it is alive and what it holds.</summary>
    public static readonly TimeSpan HelloPeriod = TimeSpan.FromSeconds(3);

    private readonly IActorRef _coordinator;
    private readonly Dictionary<string, SetTunnel> _tunnels = new(StringComparer.Ordinal);

    private readonly HostSettings _settings;
    private readonly HostPlane _plane;
    private readonly MemberGate _gate = new(Context);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly DateTime _started = DateTime.UtcNow;
    private readonly Dictionary<string, IActorRef> _lans = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IActorRef> _nodes = new(StringComparer.Ordinal);
    private Topology _state = Topology.Empty;
    private IActorRef _ovs = ActorRefs.Nobody;
    private IActorRef _park = ActorRefs.Nobody;
    private OvsReady? _ovsReady;
    private bool _swept;
    private bool _checkingImages;
    private int _collectors;

    /// <summary>The project's messages only from this process or the cluster's members (see <see cref="MemberGate"/>).</summary>
    protected override bool AroundReceive(Receive receive, object message) => _gate.Refuses(message, Sender) || base.AroundReceive(receive, message);

    private TunnelSettings Tunnel => _plane.Tunnel ?? TunnelSettings.None;

    /// <param name="coordinator">The lan-coordinator (its singleton proxy); null on a host that reports to none.</param>
    public static Props Props(HostSettings settings, HostPlane plane, IActorRef? coordinator = null) =>
        Akka.Actor.Props.Create(() => new HostAgent(settings, plane, coordinator));

    public HostAgent(HostSettings settings, HostPlane plane, IActorRef? coordinator)
    {
        _settings = settings;
        _plane = plane;
        _coordinator = coordinator ?? ActorRefs.Nobody;
        PersistenceId = $"host-{settings.HostName}";

        Recover<SnapshotOffer>(offer =>
        {
            _state = offer.Snapshot switch
            {
                LabSnapshot lab => Topology.FromSnapshot(lab),
                TopologySnapshot old => Topology.FromSnapshot(old),
                _ => _state,
            };
        });
        Recover<ITopologyEvent>(Fold);
        Recover<RecoveryCompleted>(_ =>
        {
            Recovered();
            StartChildren();
        });

        Command<ITopologyCommand>(Handle);
        Command<ImagesChecked>(OnImagesChecked);
        Command<ISpyCommand>(ToSpy);
        Command<ListTopology>(_ => Sender.Tell(ReplyFrame.Fit(Context.System, HostStatus.Listing(_state, _settings.HostName, _settings.StateDir, Tunnel, _tunnels))));
        Command<GetStatus>(_ => ReplyStatus());
        Command<ExecInNode>(Exec);
        Command<BuildImage>(b => VmImages.BuildAsync(b, _plane.VmEnv).PipeTo(Sender));
        Command<OvsReady>(OnOvsReady);
        Command<SayHello>(_ => Hello());
        Command<LanTunnel>(t =>
        {
            if (!Names.IsValid(t.Lan) || t.Peers is null)
            {
                return;
            }

            var wanted = new SetTunnel(t.Vni, [.. t.Peers]);
            _tunnels[t.Lan] = wanted;
            _lans.GetValueOrDefault(t.Lan)?.Tell(wanted);
        });
        Command<NodeReady>(r =>
        {
            if (r.Recreated.Count == 0)
            {
                return;
            }

            foreach (var lan in _state.EndpointsOf(r.Node).Select(e => e.Value).Distinct().ToList())
            {
                _lans.GetValueOrDefault(lan)?.Tell(new BouncePorts(r.Recreated));
            }
        });
        Command<Swept>(s =>
        {
            if (s.Error is not null)
            {
                _log.Warning("sweep of leftovers incomplete: {0}", s.Error);
            }
            else if (s.Removed.Count > 0)
            {
                _log.Info("removed leftovers that the desired state does not hold: {0}", string.Join(", ", s.Removed));
            }

            s.ReplyTo?.Tell(s.Error is null
                ? new CommandSucceeded($"purged: nothing left on host {_settings.HostName} ({s.Removed.Count} leftover object(s) removed)")
                : new CommandFailed(ErrorCode.DataPlane, $"purge incomplete: {s.Error}"));
        });
        Command<SweepRequest>(s => Sweep(s.ReplyTo));
        Command<TeardownDataPlane>(_ => TeardownAll());
    }

    public override string PersistenceId { get; }

    private sealed record Swept(IReadOnlyList<string> Removed, string? Error, IActorRef? ReplyTo);

    /// <summary>The images of a command's VMs were looked at on the disk (off this thread); null: they are all there.</summary>
    private sealed record ImagesChecked(ITopologyCommand Command, IActorRef Client, string? Problem);

    private sealed record SayHello
    {
        public static readonly SayHello Instance = new();
    }

    protected override int SnapshotEvery => _settings.SnapshotEvery;

    protected override string JournalOwner => $"host {_settings.HostName}";

    protected override void Fold(ITopologyEvent e) => _state = _state.Apply(e);

    protected override object TakeSnapshot() => _state.ToSnapshot();

    /// <summary>The journal answers again: carry out what a write thought lost stored after all.</summary>
    protected override void JournalReturned(IReadOnlyList<ITopologyEvent> stored)
    {
        foreach (var effect in Effects.Of(stored))
        {
            Act(effect, ActorRefs.Nobody);
        }
    }

    /// <summary>Tells the coordinator this host is alive, what its journal holds, and where its tunnels start.</summary>
    private void Hello()
    {
        if (_coordinator.IsNobody())
        {
            return;
        }

        var hello = new HostHello(
            _settings.HostName,
            Tunnel.LocalAddress,
            Tunnel.InnerMtu,
            [.. _state.Nodes.Keys],
            [.. _state.Lans.Keys.Select(l => new SegmentReport(l, _tunnels.GetValueOrDefault(l)?.Vni ?? 0))]);
        // Replies go to the parent (the back-off supervisor), whose address outlives a restart of this agent.
        _coordinator.Tell(hello, Context.Parent);
    }

    private void StartChildren()
    {
        _log.Info("host {0}: desired state recovered: {1} node(s), {2} lan(s), {3} endpoint(s)", _settings.HostName, _state.Nodes.Count, _state.Lans.Count, _state.Endpoints.Count);
        _ovs = Context.ActorOf(_plane.OvsProps, "ovs");
        _park = Context.ActorOf(LanActor.Props(ParkingLan, _plane.Ovs, onlyWhileUsed: true), "park");
        _park.Tell(new SetLanMembers(ParkedPorts(), null));
        foreach (var node in _state.Nodes.Values)
        {
            StartNode(node, null);
        }

        foreach (var lan in _state.Lans.Values)
        {
            StartLan(lan, null);
        }

        if (!_coordinator.IsNobody())
        {
            Hello();
            Timers.StartPeriodicTimer("hello", SayHello.Instance, HelloPeriod);
        }
    }

    /// <summary>The bridge of the d nics that are on no lan; id 0 is never given to a user's lan.</summary>
    private static readonly LanSpec ParkingLan = LeftoverPlan.ParkingLan;

    /// <summary>
    /// Every d nic that is on no lan, each in a VLAN of its own so parked nics cannot reach each other.
    /// (QEMU waits for OVS to connect to a vhost-user socket before it boots the guest.)
    /// </summary>
    private List<PortSpec> ParkedPorts() =>
    [
        .. _state.Nodes.Values
            .SelectMany(n => NicBinding.Of(n).Where(x => x.Binding.ParkedOffLan && !_state.Endpoints.ContainsKey(new NicRef(n.Name, x.Nic))).Select(x => (n, i: x.Nic)))
            .Select(x => NodePorts.Of(x.n, x.i, _settings.StateDir) with { Tag = 1 + (((x.n.Id * Topology.MaxNics) + x.i) % 4093) }),
    ];

    private HostFacts Facts() =>
        (_plane.Facts ?? HostFacts.Unlimited) with
        {
            Dpdk = _ovsReady?.Dpdk ?? false,
            DpdkWhyNot = _ovsReady?.DpdkWhyNot ?? "Open vSwitch is not up yet",
        };

    private void Handle(ITopologyCommand command)
    {
        if (_checkingImages)
        {
            // Commands are decided in the order they came: this one waits for the one whose images are being looked at.
            Stash.Stash();
            return;
        }

        if (JournalWatch.Health.IsDown)
        {
            Sender.Tell(JournalWatch.Health.Refusal());
            return;
        }

        var images = VmImages.Of(command);
        if (images.Count == 0)
        {
            Decide(command, Sender);
            return;
        }

        if (VmImages.HostProblem(_plane.Vms, _plane.VmEnv) is { } noVms)
        {
            Sender.Tell(new CommandFailed(ErrorCode.NotFound, noVms));
            return;
        }

        // A VM's image must exist before the VM is recorded; looking reads the disk, which may hang (NFS).
        var env = _plane.VmEnv!;
        var client = Sender;
        _checkingImages = true;
        Task.Run(() => VmImages.Problem(images, env)).PipeTo(
            Self,
            success: problem => new ImagesChecked(command, client, problem),
            failure: ex => new ImagesChecked(command, client, $"the images could not be examined: {ex.GetBaseException().Message}"));
    }

    private void OnImagesChecked(ImagesChecked checkedImages)
    {
        _checkingImages = false;
        Stash.UnstashAll();
        if (checkedImages.Problem is { } problem)
        {
            checkedImages.Client.Tell(new CommandFailed(ErrorCode.NotFound, problem));
            return;
        }

        if (JournalWatch.Health.IsDown)
        {
            checkedImages.Client.Tell(JournalWatch.Health.Refusal());
            return;
        }

        Decide(checkedImages.Command, checkedImages.Client);
    }

    /// <summary>Decides <paramref name="command"/> against the state, persists its events, then carries out their effects.</summary>
    private void Decide(ITopologyCommand command, IActorRef client)
    {
        var decision = _state.Decide(command, _plane.Facts is null ? HostFacts.Unlimited : Facts());
        if (decision.Rejection is { } rejected)
        {
            client.Tell(rejected);
            return;
        }

        var events = decision.Events;
        var self = Self;
        Action<IActorRef>? then = command is PurgeAll ? c => self.Tell(new SweepRequest(c)) : null;
        if (events.Length == 0)
        {
            // Nothing to record (a purge of an empty lab): still answer, and still sweep leftovers.
            Context.ActorOf(ReplyCollector.Props(0, client, Describe(command), _settings.Timeout, then), $"reply-{++_collectors}");
            return;
        }

        Record(
            events,
            () =>
            {
                // All of the command's events are in the journal and the state: now change the OS, one
                // message per lan or node touched, each answering the collector that answers the client.
                var effects = Effects.Of(events);
                var collector = Context.ActorOf(
                    ReplyCollector.Props(effects.Count, client, Describe(command), _settings.Timeout, then),
                    $"reply-{++_collectors}");
                foreach (var effect in effects)
                {
                    Act(effect, collector);
                }
            },
            client.Tell);
    }

    private sealed record SweepRequest(IActorRef ReplyTo);

    /// <summary>Carries out one effect of persisted events on the data plane; the child answers <paramref name="replyTo"/>.</summary>
    private void Act(Effect effect, IActorRef replyTo)
    {
        switch (effect)
        {
            case Effect.StartLan(var name):
                StartLan(_state.Lans[name], replyTo);
                break;
            case Effect.UpdateLan(var name):
                if (_lans.TryGetValue(name, out var member))
                {
                    member.Tell(new SetLanMembers(PortsOf(name), replyTo));
                }
                else
                {
                    replyTo.Tell(new CommandSucceeded("lan gone"));
                }

                break;
            case Effect.StopLan(var name):
                if (_lans.Remove(name, out var lan))
                {
                    lan.Tell(new Teardown(replyTo));
                }
                else
                {
                    replyTo.Tell(new CommandSucceeded("no bridge"));
                }

                break;
            case Effect.StartNode(var name):
                StartNode(_state.Nodes[name], replyTo);
                break;
            case Effect.ImpairNic(var impairedNode, var nic):
                if (_nodes.TryGetValue(impairedNode, out var impaired))
                {
                    impaired.Tell(ImpairmentOf(impairedNode, nic, replyTo));
                }
                else
                {
                    replyTo.Tell(new CommandSucceeded("no node"));
                }

                break;
            case Effect.UpdatePark:
                _park.Tell(new SetLanMembers(ParkedPorts(), replyTo));
                break;
            case Effect.StopNode(var name):
                if (_nodes.Remove(name, out var node))
                {
                    node.Tell(new Teardown(replyTo));
                }
                else
                {
                    replyTo.Tell(new CommandSucceeded("no node"));
                }

                break;
        }
    }

    private void StartLan(LanSpec lan, IActorRef? replyTo)
    {
        var actor = Context.ActorOf(LanActor.Props(lan, _plane.Ovs, tunnels: _plane.Tunnels, tunnel: Tunnel), $"lan-{lan.Name}-{lan.Id}");
        _lans[lan.Name] = actor;
        if (_tunnels.TryGetValue(lan.Name, out var tunnel))
        {
            actor.Tell(tunnel);
        }

        // Members first: a lan actor that saw OvsReady with an empty member set would strip the bridge.
        actor.Tell(new SetLanMembers(PortsOf(lan.Name), replyTo));
        if (_ovsReady is { } ready)
        {
            actor.Tell(ready);
        }
    }

    private void StartNode(NodeSpec node, IActorRef? replyTo)
    {
        var actor = node.Kind == NodeKind.Vm
            ? Context.ActorOf(VmActor.Props(node, _plane.Vms!, _plane.VmEnv!, replyTo), $"vm-{node.Name}-{node.Id}")
            : Context.ActorOf(ContainerActor.Props(node, _settings.HostName, _plane.Containers, replyTo, _plane.VmEnv?.Relays), $"cnt-{node.Name}-{node.Id}");
        _nodes[node.Name] = actor;
        foreach (var nic in _state.Impairments.Keys.Where(k => k.Nic.Node == node.Name).Select(k => k.Nic.Nic).Distinct())
        {
            actor.Tell(ImpairmentOf(node.Name, nic, null));
        }
    }

    private ApplyImpairment ImpairmentOf(string node, int nic, IActorRef? replyTo) =>
        new(nic, _state.ImpairmentOf(new NicRef(node, nic), ImpairDirections.In), _state.ImpairmentOf(new NicRef(node, nic), ImpairDirections.Out), replyTo);

    /// <summary>Captures and fault injection go to the relay of the s nic, through its node's actor.</summary>
    private void ToSpy(ISpyCommand command)
    {
        if (SpyRequests.Refusal(command, _state, _settings.FaultInjection) is { } refused)
        {
            Sender.Tell(refused);
        }
        else if (_nodes.TryGetValue(command.Node, out var node))
        {
            node.Forward(command);
        }
        else
        {
            Sender.Tell(ExecRequests.NoSuchNode(command.Node, _state)); // the data plane was torn down
        }
    }

    private List<PortSpec> PortsOf(string lan) =>
        [.. _state.MembersOf(lan).Select(m => NodePorts.Of(_state.Nodes[m.Node], m.Nic, _settings.StateDir))];

    private void OnOvsReady(OvsReady ready)
    {
        _ovsReady = ready;
        foreach (var lan in _lans.Values.Append(_park))
        {
            lan.Tell(ready);
        }

        if (!_swept)
        {
            _swept = true;
            Sweep(null);
        }
    }

    private void Exec(ExecInNode cmd)
    {
        if (ExecRequests.Refusal(cmd) is { } refused)
        {
            Sender.Tell(refused);
        }
        else if (_nodes.TryGetValue(cmd.Node, out var node))
        {
            node.Forward(cmd);
        }
        else
        {
            Sender.Tell(ExecRequests.NoSuchNode(cmd.Node, _state));
        }
    }

    /// <summary>
    /// Removes project objects on this host that the desired state does not hold (<see cref="LeftoverPlan"/>),
    /// off this thread. Runs once OVS is first ready after a (re)start, and at the end of a purge.
    /// </summary>
    private void Sweep(IActorRef? replyTo)
    {
        var desired = _state;
        var sweep = new LeftoverSweep(_settings.HostName, _settings.StateDir, _plane.Containers, _plane.Ovs, _plane.Vms, _plane.Tunnels);
        Task.Run(() => sweep.SweepAsync(desired)).PipeTo(
            Self,
            success: removed => new Swept(removed, null, replyTo),
            failure: ex => new Swept([], ex.GetBaseException().Message, replyTo));
    }

    private void TeardownAll()
    {
        var client = Sender;
        var parts = _lans.Count + _nodes.Count + (_park.IsNobody() ? 0 : 1);
        var ovs = _ovs;
        var collector = Context.ActorOf(
            ReplyCollector.Props(parts, client, "data plane removed", _settings.Timeout, c => ovs.Tell(new StopOvs(), c)),
            $"reply-{++_collectors}");
        foreach (var child in _lans.Values.Concat(_nodes.Values).Append(_park).Where(c => !c.IsNobody()))
        {
            child.Tell(new Teardown(collector));
        }

        _park = ActorRefs.Nobody;

        _lans.Clear();
        _nodes.Clear();
    }

    private void ReplyStatus()
    {
        var facts = new StatusFacts(
            _settings,
            DateTime.UtcNow - _started,
            _state.Nodes.Count,
            _state.Lans.Count,
            _state.Endpoints.Count,
            [.. Cluster.Get(Context.System).State.Members.Select(m => new MemberView(m.Address.ToString(), m.Status.ToString(), [.. m.Roles.Order(StringComparer.Ordinal)]))],
            HostStatus.Datapath(_plane.Datapath, _ovsReady),
            _plane.Vms?.Accel.Why ?? "no VMs on this host",
            JournalWatch.Health);
        HostStatus.ReportAsync(facts, _ovs, Context.System, PersistenceId, Self).PipeTo(Sender);
    }

    private static string Describe(ITopologyCommand command) => command switch
    {
        AddLan c => $"lan {c.Name} added",
        AddContainer c => $"container {c.Name} added with {c.Nics.Length} nic(s)",
        AddVm { Image: "tiny" } c => $"vm {c.Name} added with nics {NicKinds.Format(c.Nics)}: running, guest agent ready",
        AddVm c => $"vm {c.Name} added with nics {NicKinds.Format(c.Nics)}: QEMU running from an overlay of {c.Image}",
        DeleteObject c => $"{c.Name} deleted",
        ConnectNic c => $"{c.Node} nic {c.Nic} connected to lan {c.Lan}",
        DisconnectNic c => $"{c.Node} nic {c.Nic} disconnected",
        ImpairNic c => $"{c.Node} nic {c.Nic} impaired ({c.Direction})",
        PurgeAll => "purged",
        DeployTopology c => $"deployed {c.Lans?.Length ?? 0} lan(s), {(c.Containers?.Length ?? 0) + (c.Vms?.Length ?? 0)} node(s), {c.Endpoints?.Length ?? 0} endpoint(s)",
        _ => "done",
    };
}
