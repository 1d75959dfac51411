using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.TestKit;
using CloonixActors.Protocol;
using CloonixActors.Tests.Fakes;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

/// <summary>
/// The spoofed cases of a hostile peer, with real remoting: this test's ActorSystem is a one-member cluster
/// running the actor under test; a second ActorSystem in the same process (port 0, the project's
/// serialization) is a stranger that reaches the port, or, where it matters, a second member.
/// </summary>
public sealed class MemberGateSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(ClusterConfig, "gate", output), IAsyncLifetime
{
    private static readonly Config ClusterConfig = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.roles = [host]
        akka.loglevel = INFO
        """).WithFallback(TestConfig.InMemoryPersistence);

    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(500);
    private readonly List<ActorSystem> _others = [];

    private Address Self => Cluster.Get(Sys).SelfAddress;

    public async Task InitializeAsync()
    {
        var cluster = Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        await AwaitConditionAsync(() => Task.FromResult(cluster.State.Members.Any(m => m.Status == MemberStatus.Up)));
    }

    public async Task DisposeAsync()
    {
        foreach (var other in _others)
        {
            await other.Terminate();
        }
    }

    /// <summary>A program that reaches the port but is no member: remoting only, the project's serializers.</summary>
    private ActorSystem Stranger()
    {
        var system = ActorSystem.Create("stranger", ConfigurationFactory.ParseString("""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            """).WithFallback(TestConfig.Base));
        _others.Add(system);
        return system;
    }

    /// <summary>A second member of this test's cluster.</summary>
    private async Task<ActorSystem> Member()
    {
        var system = ActorSystem.Create("gate", ConfigurationFactory.ParseString("""
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            """).WithFallback(TestConfig.Base));
        _others.Add(system);
        var address = Cluster.Get(system).SelfAddress;
        Cluster.Get(system).Join(Self);
        await AwaitConditionAsync(() => Task.FromResult(Cluster.Get(Sys).State.Members.Any(m => m.Address == address && m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(20));
        return system;
    }

    /// <summary>What another system sees of an actor of this test's system: its path at this system's address.</summary>
    private ActorSelection From(ActorSystem other, IActorRef actor) =>
        other.ActorSelection(new RootActorPath(Self) / actor.Path.Elements);

    /// <summary>The stranger really reaches the actor (so a silence below is a refusal, not a lost message).</summary>
    private static async Task AssertReaches(ActorSelection selection)
    {
        var identity = await selection.Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(10));
        Assert.NotNull(identity.Subject);
    }

    [Fact]
    public async Task ExecInNode_from_a_program_that_is_not_a_member_is_refused_and_not_run()
    {
        var containers = new FakeContainerPlane();
        var agent = Sys.ActorOf(
            HostAgent.Props(new HostSettings("h1", "/nonexistent", "inmem", 100, TimeSpan.FromSeconds(10)), new HostPlane(new FakeOvsSwitch(), containers, Props.Create(() => new UpOvs()), "netdev")),
            "agent");
        agent.Tell(new AddContainer("c1", 1));
        await ExpectMsgAsync<CommandSucceeded>(TimeSpan.FromSeconds(10));
        var stranger = Stranger();
        var strangerProbe = new TestProbe(stranger, new Akka.TestKit.Xunit2.XunitAssertions());
        await AssertReaches(From(stranger, agent));

        await EventFilter.Warning(contains: "refused ExecInNode").ExpectOneAsync(async () =>
        {
            From(stranger, agent).Tell(new ExecInNode("c1", ["id", "-u"], 5), strangerProbe.Ref);
            From(stranger, agent).Tell(new DeleteObject("c1", Force: true), ActorRefs.NoSender);
            await Task.CompletedTask;
        });

        await strangerProbe.ExpectNoMsgAsync(Quiet);
        Assert.Empty(containers.CallsTo(FakeContainerPlane.Exec));
        agent.Tell(new ListTopology());
        Assert.Equal("c1", Assert.Single((await ExpectMsgAsync<TopologyListing>()).Nodes).Name);

        // The same request from this process is carried out.
        agent.Tell(new ExecInNode("c1", ["id", "-u"], 5));
        Assert.Equal("id -u", (await ExpectMsgAsync<ExecResult>(TimeSpan.FromSeconds(5))).Stdout);
        Assert.Single(containers.CallsTo(FakeContainerPlane.Exec));
    }

    [Fact]
    public async Task A_node_actor_reached_by_its_path_refuses_a_stranger_too()
    {
        var containers = new FakeContainerPlane();
        var agent = Sys.ActorOf(
            HostAgent.Props(new HostSettings("h1", "/nonexistent", "inmem", 100, TimeSpan.FromSeconds(10)), new HostPlane(new FakeOvsSwitch(), containers, Props.Create(() => new UpOvs()), "netdev")),
            "agent2");
        agent.Tell(new AddContainer("c1", 1));
        await ExpectMsgAsync<CommandSucceeded>(TimeSpan.FromSeconds(10));
        var stranger = Stranger();
        var node = stranger.ActorSelection(new RootActorPath(Self) / agent.Path.Elements / "cnt-c1-1");
        await AssertReaches(node);

        await EventFilter.Warning(contains: "refused ExecInNode").ExpectOneAsync(async () =>
        {
            node.Tell(new ExecInNode("c1", ["id", "-u"], 5), ActorRefs.NoSender);
            await Task.CompletedTask;
        });

        Assert.Empty(containers.CallsTo(FakeContainerPlane.Exec));
    }

    [Fact]
    public async Task HostHello_for_a_host_from_another_address_is_refused_and_the_registry_keeps_the_host()
    {
        var coordinator = Sys.ActorOf(LanCoordinator.Props(new CoordinatorSettings("h1", TimeSpan.FromSeconds(5), ClusterId: Guid.NewGuid().ToString("N"))), "coordinator");
        var h1 = CreateTestProbe("h1");
        h1.Send(coordinator, new HostHello("h1", "198.18.100.1", 1450, ["n1"], []));
        await AwaitAssertAsync(async () => Assert.Equal(1, (await View(coordinator, "h1")).Nodes), TimeSpan.FromSeconds(10));

        // A stranger: stopped by the gate.
        var stranger = Stranger();
        await AssertReaches(From(stranger, coordinator));
        await EventFilter.Warning(contains: "refused HostHello").ExpectOneAsync(async () =>
        {
            From(stranger, coordinator).Tell(new HostHello("h1", "198.18.100.9", 1450, [], []), new TestProbe(stranger, new Akka.TestKit.Xunit2.XunitAssertions()).Ref);
            await Task.CompletedTask;
        });

        // A member at another address claiming h1: refused while h1's member is in the cluster.
        var member = await Member();
        var memberProbe = new TestProbe(member, new Akka.TestKit.Xunit2.XunitAssertions());
        await EventFilter.Warning(contains: "refused a hello for host h1").ExpectOneAsync(async () =>
        {
            From(member, coordinator).Tell(new HostHello("h1", "198.18.100.9", 1450, [], []), memberProbe.Ref);
            await Task.CompletedTask;
        });

        var kept = await View(coordinator, "h1");
        Assert.Equal((Self.ToString(), "198.18.100.1", 1), (kept.Address, kept.TunnelAddress, kept.Nodes));

        // The member under a name of its own is heard (the gate lets members through).
        From(member, coordinator).Tell(new HostHello("h2", "198.18.100.2", 1450, [], []), memberProbe.Ref);
        await AwaitAssertAsync(async () => Assert.Equal(Cluster.Get(member).SelfAddress.ToString(), (await View(coordinator, "h2")).Address), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_capture_chunk_from_a_stranger_never_reaches_the_client()
    {
        var client = CreateTestProbe("client");
        var proxy = Sys.ActorOf(StreamProxy.Props(client.Ref), "capture-proxy");
        var stranger = Stranger();
        await AssertReaches(From(stranger, proxy));

        await EventFilter.Warning(contains: "refused CaptureChunk").ExpectOneAsync(async () =>
        {
            From(stranger, proxy).Tell(new CaptureChunk(1, [1, 2, 3]), ActorRefs.NoSender);
            await Task.CompletedTask;
        });
        await client.ExpectNoMsgAsync(Quiet);

        // From the host's relay (this process), it passes.
        proxy.Tell(new CaptureChunk(1, [4, 5, 6]));
        Assert.Equal([4, 5, 6], (await client.ExpectMsgAsync<CaptureChunk>()).Data);
    }

    [Fact]
    public async Task Traffic_events_from_a_stranger_never_reach_the_client()
    {
        var client = CreateTestProbe("events-client");
        var session = Sys.ActorOf(EventsSession.Props(client.Ref), "events");
        var stranger = Stranger();
        await AssertReaches(From(stranger, session));
        var fake = new NicTraffic("h1", "vm1", 0, DateTimeOffset.UtcNow, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0);

        await EventFilter.Warning(contains: "refused NicTraffic").ExpectOneAsync(async () =>
        {
            From(stranger, session).Tell(fake, ActorRefs.NoSender);
            await Task.CompletedTask;
        });
        await client.ExpectNoMsgAsync(Quiet);

        session.Tell(fake with { Node = "vm2" });
        Assert.Equal("vm2", (await client.ExpectMsgAsync<NicTraffic>()).Node);
    }

    private async Task<HostView> View(IActorRef coordinator, string host)
    {
        var view = await coordinator.Ask<CoordinatorView>(new GetCoordinatorView(), TimeSpan.FromSeconds(5));
        return Assert.Single(view.Hosts, h => h.Name == host);
    }

    /// <summary>Stands in for the OVS daemon actor: up at once.</summary>
    private sealed class UpOvs : ReceiveActor
    {
        public UpOvs()
        {
            Receive<GetOvsInfo>(_ => Sender.Tell(new OvsInfo(true, 101, 102, 0, 0, "netdev", null)));
            Receive<StopOvs>(_ => Sender.Tell(new TeardownDone("ovs", null)));
        }

        protected override void PreStart() => Context.Parent.Tell(new OvsReady(1));
    }
}
