using Akka.Actor;
using CloonixActors.Domain;
using CloonixActors.Domain.Plans;
using CloonixActors.Host.Coordinator.Requests;
using CloonixActors.Protocol;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

/// <summary>A request's child actor: its rounds go out in order, answers are collected with a timeout, the outcome goes to its parent.</summary>
public sealed class HostRequestSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "request", output)
{
    [Fact]
    public async Task A_connect_asks_for_the_bridge_then_for_the_nic_and_tells_its_parent_the_outcome()
    {
        var host = CreateTestProbe();
        var client = CreateTestProbe();
        var plan = new ConnectPlan(new ConnectNic("n1", 0, "l1"), "h1", MakeSegment: true);

        ChildActorOf(HostRequest.Props(plan, client, new Dictionary<string, IActorRef> { ["h1"] = host }, TimeSpan.FromSeconds(5)));

        await host.ExpectMsgAsync(new AddLan("l1"));
        host.Reply(new CommandSucceeded("lan l1 added"));
        await host.ExpectMsgAsync(new ConnectNic("n1", 0, "l1"));
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // nothing concluded before the last round answered
        host.Reply(new CommandSucceeded("connected"));
        var concluded = await ExpectMsgAsync<HostRequest.Concluded>();
        Assert.Equal(client.Ref, concluded.Client);
        Assert.Equal(new CommandSucceeded("connected"), concluded.Outcome.Reply);
        await client.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // the coordinator answers, once it recorded
    }

    [Fact]
    public async Task A_host_that_does_not_answer_in_time_and_one_not_live_are_answered_for()
    {
        var silent = CreateTestProbe();
        var plan = new DeleteLanPlan(new DeleteObject("l1", false), ["h1", "h2"]);

        ChildActorOf(HostRequest.Props(plan, CreateTestProbe(), new Dictionary<string, IActorRef> { ["h1"] = silent }, TimeSpan.FromSeconds(1)));

        await silent.ExpectMsgAsync(new DeleteObject("l1", false));
        var concluded = await ExpectMsgAsync<HostRequest.Concluded>(TimeSpan.FromSeconds(5));
        Assert.Equal(
            new CommandFailed(ErrorCode.DataPlane, "host h1: no answer from the host within 1 s; the registry follows the host's next report"),
            concluded.Outcome.Reply);
        Assert.Empty(concluded.Outcome.Events);
        silent.Reply(new CommandSucceeded("too late")); // a late answer changes nothing
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task A_listing_answers_the_client_itself_and_a_silent_host_lists_nothing()
    {
        var h1 = CreateTestProbe();
        var h2 = CreateTestProbe();
        var client = CreateTestProbe();
        var registry = Registry.Empty.Apply(new LanRegistered("l1", Registry.FirstVni)).Apply(new LanSegmentAdded("l1", "h1"));

        ChildActorOf(HostRequest.Props(new ListPlan(registry, ["h1", "h2"]), client, new Dictionary<string, IActorRef> { ["h1"] = h1, ["h2"] = h2 }, TimeSpan.FromSeconds(1)));

        await h1.ExpectMsgAsync<ListTopology>();
        await h2.ExpectMsgAsync<ListTopology>();
        h1.Reply(new TopologyListing([], [new LanView("l1", "h1", "br", [])]));
        var listing = await client.ExpectMsgAsync<TopologyListing>(TimeSpan.FromSeconds(5));
        Assert.Equal([("l1", "h1", Registry.FirstVni)], listing.Lans.Select(l => (l.Name, l.Host, l.Vni)));
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }
}
