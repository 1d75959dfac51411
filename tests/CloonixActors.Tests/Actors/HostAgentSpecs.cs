using Akka.Actor;
using Akka.Persistence;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using CloonixActors.Tests.Fakes;
using CloonixActors.Tests.Serialization;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

/// <summary>
/// The host agent with the in-memory journal and snapshot store of this test's ActorSystem, the data-plane
/// fakes, and a stand-in for the OVS daemon actor. A "restart" is a new agent with the same persistence id
/// in the same ActorSystem, so it recovers from the same journal.
/// </summary>
public sealed class HostAgentSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.InMemoryPersistence, "host", output)
{
    private const string Host = "h1";

    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private FakeOvsSwitch _ovs = new();
    private FakeContainerPlane _containers = new();
    private int _agents;

    private static string PersistenceId => $"host-{Host}";

    private IActorRef StartAgent(int snapshotEvery = 100) =>
        Sys.ActorOf(
            HostAgent.Props(
                new HostSettings(Host, "/nonexistent", "inmem", snapshotEvery, TimeSpan.FromSeconds(10)),
                new HostPlane(_ovs, _containers, Props.Create(() => new FakeOvsActor()), "netdev")),
            $"agent-{++_agents}");

    /// <summary>Stops an agent and waits until it is gone, as a daemon stop or a crash would leave it.</summary>
    private async Task StopAgent(IActorRef agent)
    {
        Watch(agent);
        Sys.Stop(agent);
        await ExpectTerminatedAsync(agent);
        Unwatch(agent);
    }

    /// <summary>The host after a reboot: the journal survives, the namespaces and the OVS bridges do not.</summary>
    private void LoseTheDataPlane()
    {
        _ovs = new FakeOvsSwitch();
        _containers = new FakeContainerPlane();
    }

    private async Task<T> Send<T>(IActorRef agent, object command)
    {
        agent.Tell(command, TestActor);
        return await ExpectMsgAsync<T>();
    }

    private Task<CommandSucceeded> Succeed(IActorRef agent, ITopologyCommand command) => Send<CommandSucceeded>(agent, command);

    private Task<TopologyListing> List(IActorRef agent) => Send<TopologyListing>(agent, new ListTopology());

    /// <summary>lan1 and lan2; n1 (2 nics) with nic 0 on lan1 and nic 1 on lan2; n2 (1 nic) on lan1.</summary>
    private async Task BuildLab(IActorRef agent)
    {
        await Succeed(agent, new AddLan("lan1"));
        await Succeed(agent, new AddLan("lan2"));
        await Succeed(agent, new AddContainer("n1", 2));
        await Succeed(agent, new AddContainer("n2", 1));
        await Succeed(agent, new ConnectNic("n1", 0, "lan1"));
        await Succeed(agent, new ConnectNic("n1", 1, "lan2"));
        await Succeed(agent, new ConnectNic("n2", 0, "lan1"));
    }

    /// <summary>The events the journal holds for the host agent, read through the journal's own protocol.</summary>
    private async Task<IReadOnlyList<object>> Journal()
    {
        var journal = Persistence.Instance.Apply(Sys).JournalFor(null);
        var reader = CreateTestProbe();
        journal.Tell(new ReplayMessages(0, long.MaxValue, long.MaxValue, PersistenceId, reader.Ref), reader.Ref);
        var events = new List<object>();
        while (true)
        {
            switch (await reader.ExpectMsgAsync<object>())
            {
                case ReplayedMessage replayed:
                    events.Add(replayed.Persistent.Payload);
                    break;
                case RecoverySuccess:
                    return events;
                case var other:
                    Assert.Fail($"unexpected answer from the journal: {other}");
                    break;
            }
        }
    }

    private static NodeView Node(TopologyListing listing, string name) => Assert.Single(listing.Nodes, n => n.Name == name);

    private static LanView Lan(TopologyListing listing, string name) => Assert.Single(listing.Lans, l => l.Name == name);

    [Fact]
    public async Task HostAgent_should_list_what_its_commands_built()
    {
        var agent = StartAgent();

        await BuildLab(agent);
        var listing = await List(agent);

        Assert.Equal(["lan1", "lan2"], listing.Lans.Select(l => l.Name));
        Assert.Equal(["n1/0", "n2/0"], Lan(listing, "lan1").Members);
        Assert.Equal(["n1/1"], Lan(listing, "lan2").Members);
        var n1 = Node(listing, "n1");
        Assert.Equal(OsNames.Namespace(Host, "n1"), n1.Namespace);
        Assert.Equal(["lan1", "lan2"], n1.Nics.Select(n => n.Lan));
        Assert.All(listing.Nodes, n => Assert.Equal(Host, n.Host));
        Assert.All(listing.Lans, l => Assert.Equal(Host, l.Host));
    }

    [Fact]
    public async Task HostAgent_should_persist_the_events_of_accepted_commands()
    {
        var agent = StartAgent();

        await Succeed(agent, new AddLan("lan1"));
        await Succeed(agent, new AddContainer("n1", 1));
        await Succeed(agent, new ConnectNic("n1", 0, "lan1"));

        var journal = await Journal();
        Assert.Equal(
            [typeof(LanAdded), typeof(ContainerNodeAdded), typeof(NicConnected)],
            journal.Select(e => e.GetType()));
        Assert.Equal(new NicConnected("n1", 0, "lan1"), journal[^1]);
    }

    [Fact]
    public async Task HostAgent_should_recover_the_same_listing_after_a_restart()
    {
        var agent = StartAgent();
        await BuildLab(agent);
        await Succeed(agent, new DisconnectNic("n2", 0));
        await Succeed(agent, new DeleteObject("lan2", Force: true));
        var before = await List(agent);

        await StopAgent(agent);
        var after = await List(StartAgent());

        Structural.AssertEqual(before, after);
        Assert.Equal(["lan1"], after.Lans.Select(l => l.Name));
    }

    [Fact]
    public async Task HostAgent_should_recover_from_a_snapshot_and_the_events_after_it()
    {
        var agent = StartAgent(snapshotEvery: 3);
        await BuildLab(agent); // 7 events: snapshots at 3 and 6, one event after the last
        var before = await List(agent);
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        await AwaitAssertAsync(async () =>
        {
            store.Tell(new LoadSnapshot(PersistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);
            var loaded = await ExpectMsgAsync<LoadSnapshotResult>();
            Assert.Equal(6, loaded.Snapshot?.Metadata.SequenceNr);
            Assert.IsType<LabSnapshot>(loaded.Snapshot?.Snapshot);
        });

        await StopAgent(agent);
        var restarted = StartAgent(snapshotEvery: 3);
        var after = await List(restarted);

        Structural.AssertEqual(before, after);
        // An id taken before the snapshot is not given again after recovering from it.
        await Succeed(restarted, new AddLan("lan3"));
        var lan3 = Lan(await List(restarted), "lan3");
        Assert.DoesNotContain(lan3.Bridge, before.Lans.Select(l => l.Bridge));
    }

    [Fact]
    public async Task HostAgent_should_change_nothing_when_it_refuses_a_command()
    {
        var agent = StartAgent();
        await BuildLab(agent);
        var listing = await List(agent);
        var journal = await Journal();
        await AwaitConditionAsync(() => Task.FromResult(_ovs.CallsTo(FakeOvsSwitch.ListBridges).Count > 0)); // the start-up sweep ran
        var ovsCalls = _ovs.Calls.Count;
        var containerCalls = _containers.Calls.Count;

        ITopologyCommand[] refused =
        [
            new AddLan("lan1"),
            new AddLan("Bad;Name"),
            new AddContainer("n3", 0),
            new ConnectNic("n1", 0, "lan2"),
            new ConnectNic("n1", 5, "lan1"),
            new ConnectNic("lan1", 0, "lan2"),
            new DisconnectNic("n9", 0),
            new DeleteObject("lan1", Force: false),
            new DeleteObject("nothing", Force: true),
            new DeployTopology(["lan3"], [new ContainerSpec("n3", 1)], [new EndpointSpec("n3", 0, "nolan")]),
        ];
        foreach (var command in refused)
        {
            await Send<CommandFailed>(agent, command);
        }

        await ExpectNoMsgAsync(Quiet);
        Structural.AssertEqual(listing, await List(agent));
        Assert.Equal(journal.Count, (await Journal()).Count);
        Assert.Equal(ovsCalls, _ovs.Calls.Count);
        Assert.Equal(containerCalls, _containers.Calls.Count);
    }

    [Fact]
    public async Task HostAgent_should_create_namespaces_and_bridge_ports_for_its_nodes_and_lans()
    {
        var agent = StartAgent();

        await BuildLab(agent);

        var listing = await List(agent);
        var ports1 = Node(listing, "n1").Nics.Select(n => n.HostInterface).ToList();
        var port2 = Assert.Single(Node(listing, "n2").Nics).HostInterface;
        Assert.Equal([OsNames.Namespace(Host, "n1"), OsNames.Namespace(Host, "n2")], _containers.Namespaces);
        Assert.Equal(ports1, _containers.HostIfsOf(OsNames.Namespace(Host, "n1")));
        Assert.Equal([ports1[0], port2], _ovs.PortsOf(Lan(listing, "lan1").Bridge));
        Assert.Equal([ports1[1]], _ovs.PortsOf(Lan(listing, "lan2").Bridge));
    }

    [Fact]
    public async Task HostAgent_should_remove_a_deleted_node_from_the_OS_and_from_its_lans()
    {
        var agent = StartAgent();
        await BuildLab(agent);
        var listing = await List(agent);

        await Succeed(agent, new DeleteObject("n1", Force: false));

        Assert.Equal([OsNames.Namespace(Host, "n2")], _containers.Namespaces);
        Assert.Equal([Assert.Single(Node(listing, "n2").Nics).HostInterface], _ovs.PortsOf(Lan(listing, "lan1").Bridge));
        Assert.Empty(_ovs.PortsOf(Lan(listing, "lan2").Bridge)!);
    }

    [Fact]
    public async Task HostAgent_should_remove_the_bridge_of_a_deleted_lan()
    {
        var agent = StartAgent();
        await BuildLab(agent);
        var bridge = Lan(await List(agent), "lan1").Bridge;

        await Succeed(agent, new DeleteObject("lan1", Force: true));

        Assert.DoesNotContain(bridge, _ovs.Bridges);
        Assert.Equal([null, "lan2"], Node(await List(agent), "n1").Nics.Select(n => n.Lan));
    }

    [Fact]
    public async Task HostAgent_should_deploy_a_whole_topology_in_one_command()
    {
        var agent = StartAgent();

        var ok = await Succeed(agent, new DeployTopology(
            ["lan1", "lan2"],
            [new ContainerSpec("n1", 2), new ContainerSpec("n2", 1)],
            [new EndpointSpec("n1", 0, "lan1"), new EndpointSpec("n1", 1, "lan2"), new EndpointSpec("n2", 0, "lan1")]));

        Assert.Contains("deployed", ok.Message, StringComparison.Ordinal);
        var listing = await List(agent);
        Assert.Equal(["n1/0", "n2/0"], Lan(listing, "lan1").Members);
        Assert.Equal(2, _containers.Namespaces.Count);
        Assert.Equal(2, _ovs.PortsOf(Lan(listing, "lan1").Bridge)!.Count);
    }

    [Fact]
    public async Task HostAgent_should_rebuild_the_data_plane_from_the_journal_after_a_restart()
    {
        var agent = StartAgent();
        await BuildLab(agent);
        var listing = await List(agent);
        await StopAgent(agent);
        LoseTheDataPlane();

        StartAgent();

        await AwaitAssertAsync(() =>
        {
            Assert.Equal(2, _containers.Namespaces.Count);
            Assert.Equal(2, _ovs.PortsOf(Lan(listing, "lan1").Bridge)?.Count);
            Assert.Equal(1, _ovs.PortsOf(Lan(listing, "lan2").Bridge)?.Count);
        });
    }

    [Fact]
    public async Task HostAgent_should_sweep_leftovers_of_its_own_host_once_OVS_is_ready()
    {
        _containers.Seed(OsNames.Namespace(Host, "old"), "cxa77n0");
        _containers.Seed(OsNames.Namespace("h2", "other"), "cxa78n0");
        _ovs.Seed(OsNames.Bridge(77), "cxa77n0");
        _ovs.Seed("br-user");

        StartAgent();

        await AwaitAssertAsync(() =>
        {
            Assert.Equal([OsNames.Namespace("h2", "other")], _containers.Namespaces);
            Assert.Equal(["br-user"], _ovs.Bridges);
        });
    }

    [Fact]
    public async Task HostAgent_should_purge_the_lab_and_answer_after_sweeping_the_leftovers()
    {
        var agent = StartAgent();
        await BuildLab(agent);
        await AwaitConditionAsync(() => Task.FromResult(_ovs.CallsTo(FakeOvsSwitch.ListBridges).Count > 0)); // the start-up sweep ran
        _containers.Seed(OsNames.Namespace(Host, "stray"));

        var purged = await Succeed(agent, new PurgeAll());

        Assert.Contains("purged", purged.Message, StringComparison.Ordinal);
        Assert.Empty(_containers.Namespaces);
        Assert.Empty(_ovs.Bridges);
        var listing = await List(agent);
        Assert.Empty(listing.Nodes);
        Assert.Empty(listing.Lans);
    }

    [Fact]
    public async Task HostAgent_should_answer_a_purge_of_an_empty_lab_and_still_sweep_leftovers()
    {
        var agent = StartAgent();
        await AwaitConditionAsync(() => Task.FromResult(_ovs.CallsTo(FakeOvsSwitch.ListBridges).Count > 0)); // the start-up sweep ran
        _containers.Seed(OsNames.Namespace(Host, "stray"));

        var purged = await Succeed(agent, new PurgeAll());

        Assert.Contains("purged", purged.Message, StringComparison.Ordinal);
        Assert.Empty(_containers.Namespaces);
    }

    [Fact]
    public async Task HostAgent_should_run_exec_in_the_node_it_names()
    {
        var agent = StartAgent();
        await Succeed(agent, new AddContainer("n1", 1));

        var result = await Send<ExecResult>(agent, new ExecInNode("n1", ["hostname"], 5));

        Assert.Equal("hostname", result.Stdout);
        Assert.Equal(OsNames.Namespace(Host, "n1"), Assert.Single(_containers.CallsTo(FakeContainerPlane.Exec)).Target);
    }

    public static TheoryData<ExecInNode, ErrorCode> BadExecs => new()
    {
        { new ExecInNode("nonode", ["true"], 5), ErrorCode.NotFound },
        { new ExecInNode("lan1", ["true"], 5), ErrorCode.NotFound },
        { new ExecInNode("N1;x", ["true"], 5), ErrorCode.InvalidArgument },
        { new ExecInNode("n1", [], 5), ErrorCode.InvalidArgument },
        { new ExecInNode("n1", [""], 5), ErrorCode.InvalidArgument },
        { new ExecInNode("n1", ["echo", "a\0b"], 5), ErrorCode.InvalidArgument },
        { new ExecInNode("n1", ["true"], 0), ErrorCode.InvalidArgument },
        { new ExecInNode("n1", ["true"], 3601), ErrorCode.InvalidArgument },
        { new ExecInNode("n1", null!, 5), ErrorCode.InvalidArgument },
        { new ExecInNode("n1", ["echo", null!], 5), ErrorCode.InvalidArgument },
    };

    [Theory]
    [MemberData(nameof(BadExecs))]
    public async Task HostAgent_should_refuse_an_exec_it_cannot_run(ExecInNode exec, ErrorCode code)
    {
        var agent = StartAgent();
        await Succeed(agent, new AddLan("lan1"));
        await Succeed(agent, new AddContainer("n1", 1));

        Assert.Equal(code, (await Send<CommandFailed>(agent, exec)).Code);
        Assert.Empty(_containers.CallsTo(FakeContainerPlane.Exec));
    }

    [Fact]
    public async Task HostAgent_should_remove_the_data_plane_on_shutdown_and_keep_the_desired_state()
    {
        var agent = StartAgent();
        await BuildLab(agent);
        var listing = await List(agent);

        var done = await Send<TeardownDone>(agent, TeardownDataPlane.Instance);

        Assert.Null(done.Error);
        Assert.Empty(_containers.Namespaces);
        Assert.Empty(_ovs.Bridges);
        Structural.AssertEqual(listing, await List(agent));
    }

    /// <summary>Stands in for <see cref="OvsActor"/>: OVS is up at once, and stops when told.</summary>
    private sealed class FakeOvsActor : ReceiveActor
    {
        public FakeOvsActor()
        {
            Receive<GetOvsInfo>(_ => Sender.Tell(new OvsInfo(true, 101, 102, 0, 0, "netdev", null)));
            Receive<StopOvs>(_ => Sender.Tell(new TeardownDone("ovs", null)));
        }

        protected override void PreStart() => Context.Parent.Tell(new OvsReady(1));
    }

    [Fact]
    public async Task HostAgent_should_report_its_journal_to_the_coordinator_and_give_each_segment_its_tunnel()
    {
        var coordinator = CreateTestProbe("coordinator");
        var tunnels = new FakeTunnelPlane();
        var agent = Sys.ActorOf(
            HostAgent.Props(
                new HostSettings(Host, "/nonexistent", "inmem", 100, TimeSpan.FromSeconds(10)),
                new HostPlane(_ovs, _containers, Props.Create(() => new FakeOvsActor()), "netdev", Tunnels: tunnels, Tunnel: new TunnelSettings("198.18.100.1", 4789, 1450)),
                coordinator),
            $"agent-{++_agents}");
        var first = await coordinator.ExpectMsgAsync<HostHello>();
        Assert.Equal((Host, "198.18.100.1", 1450), (first.Host, first.TunnelAddress, first.InnerMtu));
        Assert.Empty(first.Nodes);

        await BuildLab(agent);
        var hello = (HostHello)await coordinator.FishForMessageAsync(m => m is HostHello { Nodes.Length: 2 }, TimeSpan.FromSeconds(10));
        Assert.Equal(["n1", "n2"], hello.Nodes);
        Assert.Equal(["lan1", "lan2"], hello.Segments.Select(x => x.Lan));

        var bridge = Lan(await List(agent), "lan1").Bridge;
        var device = "cxav" + bridge["cxab".Length..];
        agent.Tell(new LanTunnel("lan1", 1000, ["198.18.100.2"]));
        await AwaitConditionAsync(() => Task.FromResult(tunnels.DeviceOf(device) is not null));
        var listing = await List(agent);
        Assert.Equal((1000, 1450), (Lan(listing, "lan1").Vni, Lan(listing, "lan1").Mtu));
        var next = (HostHello)await coordinator.FishForMessageAsync(m => m is HostHello, TimeSpan.FromSeconds(10));
        Assert.Equal(1000, next.Segments.Single(x => x.Lan == "lan1").Vni);
    }
}
