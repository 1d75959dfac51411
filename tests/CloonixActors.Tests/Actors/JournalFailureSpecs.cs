using Akka.Actor;
using Akka.Configuration;
using CloonixActors.Host.Persistence;
using CloonixActors.Protocol;
using CloonixActors.Tests.Fakes;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

/// <summary>
/// The host agent and the lan-coordinator on a journal that goes down (<see cref="FlakyJournal"/>): changes
/// are refused with one clear error, the actors and the data plane stay as they are, and once the journal
/// answers again changes are accepted, with a write that was stored after all folded in.
/// </summary>
public sealed class JournalFailureSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(Config, "journal", output)
{
    // A one-member cluster: the coordinator follows membership, and `status` lists the members.
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.roles = [host]
        """).WithFallback(ConfigurationFactory.ParseString(FlakyJournal.Config)).WithFallback(TestConfig.Base);

    private readonly FakeOvsSwitch _ovs = new();
    private readonly FakeContainerPlane _containers = new();

    private IActorRef StartAgent() =>
        Sys.ActorOf(
            HostAgent.Props(
                new HostSettings("h1", "/nonexistent", "flaky", 100, TimeSpan.FromSeconds(10)),
                new HostPlane(_ovs, _containers, Props.Create(() => new IdleOvsActor()), "netdev")),
            "agent");

    private async Task<T> Send<T>(IActorRef actor, object command)
    {
        actor.Tell(command, TestActor);
        return await ExpectMsgAsync<T>(TimeSpan.FromSeconds(10));
    }

    private async Task<string> JournalOf(IActorRef agent) => (await Send<StatusReport>(agent, new GetStatus())).Journal;

    [Fact]
    public async Task HostAgent_should_refuse_changes_while_the_journal_is_down_keep_its_nodes_and_accept_changes_once_it_answers()
    {
        var agent = StartAgent();
        Watch(agent);
        await Send<CommandSucceeded>(agent, new AddLan("lan1"));
        await Send<CommandSucceeded>(agent, new AddContainer("n1", 1));
        await Send<CommandSucceeded>(agent, new ConnectNic("n1", 0, "lan1"));
        var deletesBefore = _containers.CallsTo(FakeContainerPlane.Delete).Count;

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Down);
        var refused = await Send<CommandFailed>(agent, new AddLan("x"));
        Assert.Equal(new CommandFailed(ErrorCode.Unavailable, "journal unavailable: Failed to connect to 127.0.0.1:5432 (Connection refused); nothing changed"), refused);
        Assert.Equal(refused, await Send<CommandFailed>(agent, new DeleteObject("n1", false)));
        Assert.StartsWith("failing since ", await JournalOf(agent), StringComparison.Ordinal);

        // Everything that runs keeps running: the agent, its node (no delete), its listing, exec.
        var listing = await Send<TopologyListing>(agent, new ListTopology());
        Assert.Equal(["lan1"], listing.Lans.Select(l => l.Name));
        Assert.Equal(["n1"], listing.Nodes.Select(n => n.Name));
        Assert.Equal(0, (await Send<ExecResult>(agent, new ExecInNode("n1", ["true"], 5))).ExitCode);
        Assert.Equal(deletesBefore, _containers.CallsTo(FakeContainerPlane.Delete).Count);

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Up);
        await AwaitAssertAsync(async () => Assert.StartsWith("ok (last failure ", await JournalOf(agent), StringComparison.Ordinal), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));
        await Send<CommandSucceeded>(agent, new AddLan("x"));
        Assert.Equal(["lan1", "x"], (await Send<TopologyListing>(agent, new ListTopology())).Lans.Select(l => l.Name));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no Terminated: the agent was never stopped
    }

    [Fact]
    public async Task HostAgent_status_should_show_an_outage_before_any_change_was_refused()
    {
        var agent = StartAgent();
        await Send<CommandSucceeded>(agent, new AddLan("lan1"));
        Assert.Equal("ok", await JournalOf(agent));

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Down);
        Assert.StartsWith("failing since ", await JournalOf(agent), StringComparison.Ordinal);
        Assert.StartsWith("journal unavailable: ", (await Send<CommandFailed>(agent, new AddLan("x"))).Message, StringComparison.Ordinal);

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Up);
        await AwaitAssertAsync(async () => Assert.StartsWith("ok", await JournalOf(agent), StringComparison.Ordinal), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));
        await Send<CommandSucceeded>(agent, new AddLan("x"));
    }

    [Fact]
    public async Task HostAgent_should_keep_refusing_changes_on_a_full_disk_where_reads_still_work()
    {
        var agent = StartAgent();
        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Full);
        Assert.Equal("journal unavailable: SQLite Error 13: 'database or disk is full'; nothing changed", (await Send<CommandFailed>(agent, new AddLan("x"))).Message);

        // Probes read and write: reads alone would take the journal for healthy within a second or two.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(3))
        {
            Assert.StartsWith("journal unavailable: ", (await Send<CommandFailed>(agent, new AddLan("x"))).Message, StringComparison.Ordinal);
            Assert.StartsWith("failing since ", await JournalOf(agent), StringComparison.Ordinal);
        }

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Up);
        await AwaitAssertAsync(async () => Assert.StartsWith("ok", await JournalOf(agent), StringComparison.Ordinal), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));
        await Send<CommandSucceeded>(agent, new AddLan("x"));
    }

    [Fact]
    public async Task HostAgent_should_fold_in_a_write_that_timed_out_but_was_stored()
    {
        var agent = StartAgent();
        await Send<CommandSucceeded>(agent, new AddLan("lan1"));

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.StoresWithoutAnswer);
        var unsure = await Send<CommandFailed>(agent, new AddContainer("n1", 1));
        Assert.Equal(ErrorCode.Unavailable, unsure.Code);
        Assert.Contains("may or may not be recorded", unsure.Message, StringComparison.Ordinal);

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Up);
        // The catch-up read finds the stored event: the agent holds the node and starts it, as the journal says.
        await AwaitAssertAsync(async () => Assert.Equal(["n1"], (await Send<TopologyListing>(agent, new ListTopology())).Nodes.Select(n => n.Name)), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));
        await AwaitAssertAsync(() => Assert.NotEmpty(_containers.Namespaces), TimeSpan.FromSeconds(5));
        await Send<CommandSucceeded>(agent, new ConnectNic("n1", 0, "lan1"));
    }

    [Fact]
    public async Task LanCoordinator_should_refuse_changes_while_the_journal_is_down_and_accept_them_once_it_answers()
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        await AwaitConditionAsync(() => Task.FromResult(cluster.State.Members.Any(m => m.Status == Akka.Cluster.MemberStatus.Up)));
        var coordinator = Sys.ActorOf(LanCoordinator.Props(new CoordinatorSettings("h1", TimeSpan.FromSeconds(5), ClusterId: "spec")), "coordinator");
        var agent = CreateTestProbe("agent");
        coordinator.Tell(new HostHello("h1", string.Empty, 1450, [], []), agent.Ref);
        await AwaitAssertAsync(async () => Assert.Contains((await Send<CoordinatorView>(coordinator, new GetCoordinatorView())).Hosts, h => h.State == "live"), TimeSpan.FromSeconds(10));

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Down);
        coordinator.Tell(new Routed(new AddLan("x"), "h1"), TestActor);
        var refused = await ExpectMsgAsync<CommandFailed>(TimeSpan.FromSeconds(10));
        Assert.Equal("journal unavailable: Failed to connect to 127.0.0.1:5432 (Connection refused); nothing changed", refused.Message);
        Assert.StartsWith("failing since ", (await Send<CoordinatorView>(coordinator, new GetCoordinatorView())).Journal, StringComparison.Ordinal);
        agent.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // nothing reached the host

        await FlakyJournal.SetAsync(Sys, FlakyJournal.Mode.Up);
        await AwaitAssertAsync(async () => Assert.StartsWith("ok", (await Send<CoordinatorView>(coordinator, new GetCoordinatorView())).Journal, StringComparison.Ordinal), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));
        coordinator.Tell(new Routed(new AddLan("x"), "h1"), TestActor);
        var toHost = await agent.ExpectMsgAsync<AddLan>(TimeSpan.FromSeconds(5));
        agent.Reply(new CommandSucceeded("lan x added"));
        Assert.Equal("x", toHost.Name);
        await ExpectMsgAsync<CommandSucceeded>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void JournalHealth_should_say_since_when_it_fails_and_back_off_its_probes()
    {
        var t0 = new DateTime(2026, 12, 4, 10, 0, 0, DateTimeKind.Utc);
        var health = JournalHealth.Ok.Failed("disk full", t0);
        Assert.Equal("failing since 2026-12-04 10:00:00Z (30 s): disk full; changes are refused until it answers", health.Describe(t0.AddSeconds(30)));
        Assert.Equal(TimeSpan.FromMilliseconds(500), health.NextProbe);
        var later = health.ProbeFailed("disk still full", t0.AddSeconds(5)).ProbeFailed("disk still full", t0.AddSeconds(6)).ProbeFailed("x", t0.AddSeconds(7)).ProbeFailed("x", t0.AddSeconds(8));
        Assert.Equal(t0, later.FailingSince);
        Assert.Equal(JournalHealth.MaxProbeInterval, later.NextProbe);
        Assert.Equal("ok (last failure 2026-12-04 10:00:08Z: x)", later.Answered().Describe(t0.AddSeconds(9)));
        Assert.Equal("journal unavailable: disk full; nothing changed", health.Refusal().Message);
    }

    [Fact]
    public void JournalWrites_should_name_the_database_error_and_its_cause_on_one_line()
    {
        var refused = new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused);
        var error = new AggregateException(new InvalidOperationException("a linq2db wrapper\nwith two lines", new Npgsql.NpgsqlException("Failed to connect to 127.0.0.1:5432", refused)));
        Assert.Equal("Failed to connect to 127.0.0.1:5432 (Connection refused)", JournalWrites.Describe(error));
    }

    /// <summary>A switch that is up at once and answers status.</summary>
    private sealed class IdleOvsActor : ReceiveActor
    {
        public IdleOvsActor()
        {
            Receive<GetOvsInfo>(_ => Sender.Tell(new OvsInfo(true, 101, 102, 0, 0, "netdev", null)));
            Receive<StopOvs>(_ => Sender.Tell(new TeardownDone("ovs", null)));
        }

        protected override void PreStart() => Context.Parent.Tell(new OvsReady(1));
    }
}
