using CloonixActors.Protocol;

namespace CloonixActors.Tests.Serialization;

/// <summary>
/// One sample of every message type the project sends across processes or persists. The types come from
/// the Protocol assembly by reflection; <see cref="For"/> throws for a type that has no sample here, so a
/// new message type fails the serialization tests until it gets one.
/// </summary>
internal static class MessageSamples
{
    private static readonly LanAdded Lan = new("lan1", 7);
    private static readonly ContainerAdded Container = new("n1", 8, 3);
    private static readonly NicConnected Endpoint = new("n1", 2, "lan1");
    private static readonly NicView Nic = new(2, "veth", "lan1", "cxa8n2");
    private static readonly NicView FreeNic = new(0, "veth", null, "cxa8n0");

    private static readonly Dictionary<Type, ICloonixMessage> Samples = new ICloonixMessage[]
    {
        // commands
        new ClientRequest("s3cret", new ConnectNic("n1", 2, "lan1")),
        new AddLan("lan1"),
        new AddContainer("n1", [NicKind.Veth, NicKind.Spyable, NicKind.Veth]),
        new DeleteObject("n1", Force: true),
        new ConnectNic("n1", 2, "lan1"),
        new DisconnectNic("n1", 2),
        new DeployTopology(["lan1", "lan2"], [new ContainerSpec("n1", 3), new ContainerSpec("n2", [NicKind.Spyable], "host2")], [new EndpointSpec("n1", 2, "lan1"), new EndpointSpec("n2", 0, "lan2")]),
        new ContainerSpec("n2", 1),
        new VmNodeSpec("vm1", [NicKind.VhostUser, NicKind.Tap, NicKind.Spyable], 256, 1, "tiny", "host2"),
        new LanPlacement("lan1", "host2"),
        new ImpairmentView(20, 5, 1, 100),
        new EndpointSpec("n2", 0, "lan2"),
        new PurgeAll(),
        new ListTopology(),
        new GetStatus(),
        new ExecInNode("n1", ["ip", "-br", "addr", "show", "dev", "eth0"], 30),
        new AddVm("vm1", [NicKind.VhostUser, NicKind.Tap, NicKind.Tap], 256, 1, "tiny"),

        // persisted events and the snapshot
        Lan,
        new LanRemoved("lan1"),
        Container,
        new NodeRemoved("n1"),
        Endpoint,
        new NicDisconnected("n1", 2, "lan1"),
        new TopologySnapshot(11, [Lan, new LanAdded("lan2", 10)], [Container], [Endpoint, new NicConnected("n1", 0, "lan2")]),
        new VmAdded("vm1", 12, "dvv", 256, 1, "tiny"),
        new LabSnapshot(13, [Lan, Container, new VmAdded("vm1", 12, "dv", 512, 2, "/srv/images/debian.qcow2"), Endpoint]),

        // replies
        new CommandSucceeded("lan lan1 added"),
        new CommandFailed(ErrorCode.Conflict, "nic n1/2 is already connected to lan 'lan1'"),
        new ExecResult(3, "out\nput\n", "é err\n", TimedOut: true),
        new LanView("lan1", "host1", "cxab7", ["n1/2", "n2/0"]),
        Nic,
        new NodeView("n1", "cnt", "host1", "cxa-host1.n1", [FreeNic, Nic]),
        new TopologyListing([new NodeView("n1", "cnt", "host1", "cxa-host1.n1", [FreeNic, Nic])], [new LanView("lan1", "host1", "cxab7", ["n1/2"])]),
        new ProcessView("ovsdb-server", 4242, 1),
        new MemberView("akka.tcp://cloonix@127.0.0.1:45300", "Up", ["host"]),
        new StatusReport(
            "host1",
            "/var/lib/cloonix",
            "sqlite /var/lib/cloonix/journal.db",
            TimeSpan.FromSeconds(93.25),
            "netdev",
            [new ProcessView("ovsdb-server", 4242, 1), new ProcessView("ovs-vswitchd", 4243, 1)],
            [new MemberView("akka.tcp://cloonix@127.0.0.1:45300", "Up", ["host"])],
            2,
            1,
            3,
            "TCG: /dev/kvm is absent"),
        new BuildImage("tiny"),

        // the spyable path (streams carry the client's and the session's actor refs)
        new StartCapture("vm1", 0, Akka.Actor.ActorRefs.Nobody),
        new CaptureStarted("vm1", 0, Akka.Actor.ActorRefs.Nobody),
        new CaptureChunk(7, [0xd4, 0xc3, 0xb2, 0xa1, 0, 1]),
        new CaptureAck(7),
        new StopCapture(),
        new CaptureStopped("vm1", 0, 12, 1, 13, "stopped by the reader"),
        new SubscribeEvents(Akka.Actor.ActorRefs.Nobody),
        new EventsSubscribed(Akka.Actor.ActorRefs.Nobody),
        new EventsKeepAlive(),
        new NicTraffic("host1", "vm1", 0, new DateTimeOffset(2026, 11, 25, 20, 0, 0, TimeSpan.Zero), 10, 1000, 20, 30000, 1, 2.5, 5, 8000, 120000, 1),
        new ImpairNic("vm1", 0, "both", 40, 5, 1.5, 100),
        new InjectRelayFault("vm1", 0),
        new NicImpaired("vm1", 0, "in", 40, 5, 1.5, 100),
        new ContainerNicKinds("c1", "vs"),
        new ContainerNodeAdded("c1", 14, [NicKind.Veth, NicKind.Spyable]),
        new VmNodeAdded("vm1", 15, [NicKind.VhostUser, NicKind.Tap, NicKind.Spyable], 256, 1, "tiny"),
        // between hosts and the lan-coordinator
        new Routed(new AddContainer("n1", 2, "host2"), "host1", "5f2b0c1d9a8e4f7b"),
        new RoutedAck("5f2b0c1d9a8e4f7b"),
        new SegmentReport("lan1", 1000),
        new HostHello("host1", "198.18.100.1", 1450, ["n1", "n2"], [new SegmentReport("lan1", 1000), new SegmentReport("lan2", 0)]),
        new LanTunnel("lan1", 1000, ["198.18.100.2", "198.18.100.3"]),
        new GetCoordinatorView(),
        new HostView("host1", "akka.tcp://cloonix@198.18.100.1:45300", "live", "198.18.100.1", 2, 1),
        new CoordinatorView("host1", "akka.tcp://cloonix@198.18.100.1:45300", [new HostView("host2", "akka.tcp://cloonix@198.18.100.2:45300", "unreachable", "198.18.100.2", 0, 0)], 1),

        // persisted by the lan-coordinator
        new LanRegistered("lan1", 1000),
        new LanSegmentAdded("lan1", "host1"),
        new LanSegmentRemoved("lan1", "host1"),
        new LanUnregistered("lan1"),
        new NodePlaced("n1", "host2"),
        new NodeUnplaced("n1"),
        new RegistrySnapshot(1001, [new LanRegistered("lan1", 1000), new LanSegmentAdded("lan1", "host1"), new NodePlaced("n1", "host2")]),

        // persisted by the journal's write probe
        new JournalProbed("host-host1", 1796378400000),
    }.ToDictionary(m => m.GetType());

    /// <summary>Every concrete type of the Protocol assembly that carries the serialization marker.</summary>
    public static IReadOnlyList<Type> ConcreteMessageTypes { get; } =
    [
        .. typeof(ICloonixMessage).Assembly.GetTypes()
            .Where(t => typeof(ICloonixMessage).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .OrderBy(t => t.FullName, StringComparer.Ordinal),
    ];

    /// <summary>The types a journal or snapshot store holds: renaming or moving one breaks every stored lab.</summary>
    public static IReadOnlyList<Type> PersistedTypes { get; } =
        [.. ConcreteMessageTypes.Where(t => typeof(ITopologyEvent).IsAssignableFrom(t) || typeof(IRegistryEvent).IsAssignableFrom(t) || t == typeof(TopologySnapshot) || t == typeof(LabSnapshot) || t == typeof(RegistrySnapshot) || t == typeof(JournalProbed))];

    public static ICloonixMessage For(Type type) =>
        Samples.TryGetValue(type, out var sample)
            ? sample
            : throw new KeyNotFoundException($"{type.FullName} implements ICloonixMessage but has no sample in {nameof(MessageSamples)}: add one");

    public static TheoryData<Type> MessageTypes => [.. ConcreteMessageTypes];

    public static TheoryData<Type> PersistedTypeData => [.. PersistedTypes];
}
