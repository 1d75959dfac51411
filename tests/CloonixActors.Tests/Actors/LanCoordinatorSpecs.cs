using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.TestKit;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

/// <summary>The lan-coordinator on a one-member cluster, with test probes standing in for two host agents.</summary>
public sealed class LanCoordinatorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(Config, "coordinator", output)
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.roles = [host]
        """).WithFallback(TestConfig.InMemoryPersistence);

    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private int _requests;

    private async Task<(IActorRef Coordinator, TestProbe H1, TestProbe H2)> Start()
    {
        var cluster = Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        await AwaitConditionAsync(() => Task.FromResult(cluster.State.Members.Any(m => m.Status == MemberStatus.Up)));
        var coordinator = Sys.ActorOf(LanCoordinator.Props(new CoordinatorSettings("h1", TimeSpan.FromSeconds(5), ClusterId: Guid.NewGuid().ToString("N"))));
        var h1 = CreateTestProbe("h1");
        var h2 = CreateTestProbe("h2");
        h1.Send(coordinator, new HostHello("h1", "198.18.100.1", 1450, [], []));
        h2.Send(coordinator, new HostHello("h2", "198.18.100.2", 1450, [], []));
        return (coordinator, h1, h2);
    }

    private Routed Request(IClientCommand command, string via = "h1") => new(command, via, $"r{++_requests}");

    private static async Task<T> Next<T>(TestProbe host)
        where T : class => (T)await host.FishForMessageAsync(m => m is T, TimeSpan.FromSeconds(5));

    [Fact]
    public async Task A_node_goes_to_the_least_loaded_host_and_its_name_is_then_taken_cluster_wide()
    {
        var (coordinator, h1, h2) = await Start();

        coordinator.Tell(Request(new AddContainer("n1", 1)));
        await ExpectMsgAsync<RoutedAck>();
        Assert.Equal(new AddContainer("n1", 1), await Next<AddContainer>(h1));
        h1.Reply(new CommandSucceeded("container n1 added with 1 nic(s)"));
        Assert.EndsWith("on host h1", (await ExpectMsgAsync<CommandSucceeded>()).Message, StringComparison.Ordinal);

        coordinator.Tell(Request(new AddContainer("n2", 1)));
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddContainer>(h2);
        h2.Reply(new CommandSucceeded("container n2 added with 1 nic(s)"));
        await ExpectMsgAsync<CommandSucceeded>();

        coordinator.Tell(Request(new AddContainer("n1", 1, "h2"), "h2"));
        await ExpectMsgAsync<RoutedAck>();
        Assert.Equal(ErrorCode.AlreadyExists, (await ExpectMsgAsync<CommandFailed>()).Code);
        await h2.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_host_refusing_a_node_frees_its_name()
    {
        var (coordinator, h1, _) = await Start();

        coordinator.Tell(Request(new AddContainer("n1", 99, "h1")));
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddContainer>(h1);
        h1.Reply(new CommandFailed(ErrorCode.InvalidArgument, "a container has 1 to 32 nics, not 99"));
        await ExpectMsgAsync<CommandFailed>();

        coordinator.Tell(Request(new AddContainer("n1", 1, "h1")));
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddContainer>(h1);
    }

    [Fact]
    public async Task Connecting_a_node_on_a_second_host_makes_a_segment_there_and_gives_both_segments_their_peer()
    {
        var (coordinator, h1, h2) = await Start();
        coordinator.Tell(Request(new AddLan("l1", "h1")));
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddLan>(h1);
        h1.Reply(new CommandSucceeded("lan l1 added"));
        await ExpectMsgAsync<CommandSucceeded>();
        coordinator.Tell(Request(new AddContainer("n2", 1, "h2")));
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddContainer>(h2);
        h2.Reply(new CommandSucceeded("added"));
        await ExpectMsgAsync<CommandSucceeded>();

        coordinator.Tell(Request(new ConnectNic("n2", 0, "l1")));
        await ExpectMsgAsync<RoutedAck>();
        Assert.Equal(new AddLan("l1"), await Next<AddLan>(h2));
        h2.Reply(new CommandSucceeded("lan l1 added"));
        Assert.Equal(new ConnectNic("n2", 0, "l1"), await Next<ConnectNic>(h2));
        h2.Reply(new CommandSucceeded("connected"));
        await ExpectMsgAsync<CommandSucceeded>();

        var t1 = (LanTunnel)await h1.FishForMessageAsync(m => m is LanTunnel { Peers.Length: 1 }, TimeSpan.FromSeconds(5));
        var t2 = (LanTunnel)await h2.FishForMessageAsync(m => m is LanTunnel { Peers.Length: 1 }, TimeSpan.FromSeconds(5));
        Assert.Equal(("l1", Registry.FirstVni, "198.18.100.2"), (t1.Lan, t1.Vni, t1.Peers[0]));
        Assert.Equal(("l1", Registry.FirstVni, "198.18.100.1"), (t2.Lan, t2.Vni, t2.Peers[0]));
    }

    [Fact]
    public async Task A_resent_request_is_acknowledged_again_but_carried_out_once()
    {
        var (coordinator, h1, _) = await Start();
        var request = Request(new AddContainer("n1", 1, "h1"));

        coordinator.Tell(request);
        coordinator.Tell(request);
        await ExpectMsgAsync<RoutedAck>();
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddContainer>(h1);
        h1.Reply(new CommandSucceeded("added"));
        await ExpectMsgAsync<CommandSucceeded>();
        await Assert.ThrowsAnyAsync<Exception>(async () => await h1.FishForMessageAsync(m => m is AddContainer, Quiet)); // not carried out twice
    }

    [Fact]
    public async Task A_node_on_an_unknown_host_is_refused_and_exec_goes_to_the_nodes_host()
    {
        var (coordinator, h1, h2) = await Start();
        coordinator.Tell(Request(new AddContainer("n1", 1, "h9")));
        await ExpectMsgAsync<RoutedAck>();
        Assert.Equal(ErrorCode.Unavailable, (await ExpectMsgAsync<CommandFailed>()).Code);

        coordinator.Tell(Request(new AddContainer("n2", 1, "h2")));
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddContainer>(h2);
        h2.Reply(new CommandSucceeded("added"));
        await ExpectMsgAsync<CommandSucceeded>();
        coordinator.Tell(Request(new ExecInNode("n2", ["true"], 5)));
        await ExpectMsgAsync<RoutedAck>();
        await Next<ExecInNode>(h2);
        h2.Reply(new ExecResult(0, string.Empty, string.Empty, false));
        await ExpectMsgAsync<ExecResult>();
        await Assert.ThrowsAnyAsync<Exception>(async () => await h1.FishForMessageAsync(m => m is ExecInNode, Quiet));
    }

    [Fact]
    public async Task A_topology_refused_by_one_host_is_removed_from_the_others_and_from_the_registry()
    {
        var (coordinator, h1, h2) = await Start();
        coordinator.Tell(Request(new AddContainer("old", 1, "h1")));
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddContainer>(h1);
        h1.Reply(new CommandSucceeded("added"));
        await ExpectMsgAsync<CommandSucceeded>();

        // d1 goes to h2 (least loaded); old's nic 5 does not exist, which only h1 can tell.
        coordinator.Tell(Request(new DeployTopology(["dl"], [new ContainerSpec("d1", 1)], [new EndpointSpec("d1", 0, "dl"), new EndpointSpec("old", 5, "dl")])));
        await ExpectMsgAsync<RoutedAck>();
        var part2 = await Next<DeployTopology>(h2);
        Assert.Equal(["d1"], part2.Containers.Select(n => n.Name));
        var part1 = await Next<DeployTopology>(h1);
        Assert.Equal(["dl"], part1.Lans);
        h2.Reply(new CommandSucceeded("deployed"));
        h1.Reply(new CommandFailed(ErrorCode.InvalidArgument, "endpoints[0]: node 'old' has nics 0 to 0; there is no nic 5"));
        var refused = await ExpectMsgAsync<CommandFailed>();
        Assert.Contains("nothing of the topology was kept", refused.Message, StringComparison.Ordinal);

        Assert.Equal(new DeleteObject("d1", true), await Next<DeleteObject>(h2));
        Assert.Equal(new DeleteObject("dl", true), await Next<DeleteObject>(h2));
        coordinator.Tell(Request(new AddContainer("d1", 1, "h1")));
        await ExpectMsgAsync<RoutedAck>();
        await Next<AddContainer>(h1);
    }

    [Fact]
    public async Task A_deploy_puts_each_node_on_the_host_it_names_and_sends_each_host_its_vms_impairments_and_lan_segments()
    {
        var (coordinator, h1, h2) = await Start();

        coordinator.Tell(Request(new DeployTopology(
            ["l", "spare"],
            [new ContainerSpec("c1", [NicKind.Spyable], "h2")],
            [new EndpointSpec("c1", 0, "l"), new EndpointSpec("vm1", 0, "l")],
            Vms: [new VmNodeSpec("vm1", [NicKind.Tap], 128, 1, "tiny", "h1")],
            Impairments: [new ImpairNic("c1", 0, "both", 10, 0, 0, 0)],
            LanHosts: [new LanPlacement("spare", "h2")])));
        await ExpectMsgAsync<RoutedAck>();
        var part1 = await Next<DeployTopology>(h1);
        var part2 = await Next<DeployTopology>(h2);
        Assert.Equal(["l"], part1.Lans);
        Assert.Equal(["vm1"], part1.Vms!.Select(v => v.Name));
        Assert.Empty(part1.Containers);
        Assert.Empty(part1.Impairments!);
        Assert.Equal(["l", "spare"], part2.Lans);
        Assert.Equal(["c1"], part2.Containers.Select(c => c.Name));
        Assert.Equal([new ImpairNic("c1", 0, "both", 10, 0, 0, 0)], part2.Impairments!);
        Assert.Equal([new EndpointSpec("c1", 0, "l")], part2.Endpoints);
        h1.Reply(new CommandSucceeded("deployed"));
        h2.Reply(new CommandSucceeded("deployed"));
        Assert.Contains("2 node(s), 2 endpoint(s) on 2 host(s)", (await ExpectMsgAsync<CommandSucceeded>()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deploy_naming_a_host_that_is_not_live_is_refused_before_any_host_hears_of_it()
    {
        var (coordinator, h1, h2) = await Start();

        coordinator.Tell(Request(new DeployTopology(["l"], [new ContainerSpec("c1", 1, "h9")], [])));
        await ExpectMsgAsync<RoutedAck>();

        Assert.Contains("host 'h9' is not a live member", (await ExpectMsgAsync<CommandFailed>()).Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<Exception>(async () => await h1.FishForMessageAsync(m => m is DeployTopology, Quiet));
        await Assert.ThrowsAnyAsync<Exception>(async () => await h2.FishForMessageAsync(m => m is DeployTopology, Quiet));
    }
}
