using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.TestKit;
using CloonixActors.Protocol;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Bounds;

/// <summary>
/// The coordinator's merged listing and a host's too-large part: the client gets the host's error, not a
/// listing that silently lacks that host's nodes.
/// </summary>
public sealed class ListingFrameSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(Config, "listing", output)
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.roles = [host]
        """).WithFallback(TestConfig.InMemoryPersistence);

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

    private static TopologyListing Part(string host, params string[] nodes) =>
        new([.. nodes.Select(n => new NodeView(n, "cnt", host, $"cxa.{host}.{n}", []))], []);

    private static async Task<TestProbe> Answer(TestProbe host, IClientReply reply)
    {
        await host.FishForMessageAsync(m => m is ListTopology, TimeSpan.FromSeconds(5));
        host.Reply(reply);
        return host;
    }

    [Fact]
    public async Task The_listing_merges_every_hosts_part()
    {
        var (coordinator, h1, h2) = await Start();

        coordinator.Tell(new Routed(new ListTopology(), "h1", "l1"));
        await Task.WhenAll(Answer(h1, Part("h1", "a1")), Answer(h2, Part("h2", "b1")));

        var listing = (TopologyListing)await FishForMessageAsync(m => m is TopologyListing, TimeSpan.FromSeconds(10));
        Assert.Equal(["a1", "b1"], listing.Nodes.Select(n => n.Name));
    }

    [Fact]
    public async Task A_host_whose_part_does_not_fit_a_frame_fails_the_listing_with_its_error()
    {
        var (coordinator, h1, h2) = await Start();
        var tooLarge = new CommandFailed(ErrorCode.Unavailable, "the listing of 20000 node(s) and 0 lan segment(s) is 5000000 bytes, more than the 4 MiB remoting frame can carry");

        coordinator.Tell(new Routed(new ListTopology(), "h1", "l2"));
        await Task.WhenAll(Answer(h1, Part("h1", "a1")), Answer(h2, tooLarge));

        Assert.Equal(tooLarge, (CommandFailed)await FishForMessageAsync(m => m is CommandFailed, TimeSpan.FromSeconds(10)));
    }
}
