using Akka.Actor;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Coordinator;

/// <summary>The coordinator's view of its hosts and the tunnels it derives, without actors.</summary>
public sealed class HostLivenessSpecs
{
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly Address A1 = new("akka.tcp", "cloonix", "198.18.100.1", 2551);
    private static readonly Address A2 = new("akka.tcp", "cloonix", "198.18.100.2", 2551);

    private static HostLiveness TwoHosts()
    {
        var hosts = new HostLiveness();
        Assert.True(hosts.Hello("h1", ActorRefs.Nobody, A1, "10.0.0.1", T0, _ => true, out _));
        Assert.True(hosts.Hello("h2", ActorRefs.Nobody, A2, "10.0.0.2", T0, _ => true, out _));
        return hosts;
    }

    [Fact]
    public void A_host_is_live_while_its_hellos_come_and_its_member_is_reachable()
    {
        var hosts = TwoHosts();

        var first = hosts.Update(T0)!;
        Assert.Equal(["h1", "h2"], first.Back);
        Assert.Null(hosts.Update(T0 + TimeSpan.FromSeconds(1)));

        hosts.SetReachable(A2, false);
        Assert.Equal(["h2"], hosts.Update(T0 + TimeSpan.FromSeconds(1))!.Lost);
        hosts.SetReachable(A2, true);
        Assert.Equal(["h2"], hosts.Update(T0 + TimeSpan.FromSeconds(1))!.Back);

        Assert.True(hosts.Hello("h1", ActorRefs.Nobody, A1, "10.0.0.1", T0 + HostLiveness.HelloLost, _ => true, out _));
        Assert.Equal(["h2"], hosts.Update(T0 + HostLiveness.HelloLost)!.Lost);
        Assert.Equal(["h1"], hosts.Live);
        Assert.Equal("silent for 10 s", hosts.Describe(T0 + HostLiveness.HelloLost).Single(h => h.Name == "h2").State);
    }

    [Fact]
    public void A_hosts_name_stays_with_the_member_that_first_reported_it_while_that_member_is_in_the_cluster()
    {
        var hosts = TwoHosts();

        Assert.False(hosts.Hello("h1", ActorRefs.Nobody, A2, "10.0.0.9", T0, a => a == A1, out var bound));
        Assert.Equal(A1, bound);
        Assert.True(hosts.Hello("h1", ActorRefs.Nobody, A2, "10.0.0.9", T0, _ => false, out _));
        hosts.Update(T0);
        Assert.Equal("10.0.0.9", hosts.LiveTunnelAddresses()["h1"]);
    }

    [Fact]
    public void A_removed_member_takes_its_host_along_unless_a_new_incarnation_spoke_just_now()
    {
        var hosts = TwoHosts();

        hosts.Removed(A1, T0 + TimeSpan.FromSeconds(1));
        Assert.Equal(2, hosts.Count);
        hosts.Removed(A1, T0 + HostAgent.HelloPeriod + TimeSpan.FromSeconds(1));
        Assert.Equal(1, hosts.Count);
        Assert.True(hosts.AllSaidHello([A2]));
        Assert.False(hosts.AllSaidHello([A1, A2]));
        Assert.False(hosts.AllSaidHello([]));
    }

    [Fact]
    public void A_host_with_a_request_in_hand_or_just_answered_has_its_reports_not_adopted()
    {
        var hosts = TwoHosts();
        var later = T0 + TimeSpan.FromMinutes(1);
        Assert.True(hosts.MayAdopt("h1", later));

        hosts.Began(["h1", "h1"]);
        hosts.Ended(["h1"], later);
        Assert.False(hosts.MayAdopt("h1", later + TimeSpan.FromMinutes(1)));
        hosts.Ended(["h1"], later);
        Assert.False(hosts.MayAdopt("h1", later + TimeSpan.FromSeconds(1)));
        Assert.True(hosts.MayAdopt("h1", later + HostLiveness.AdoptQuiet + TimeSpan.FromSeconds(1)));
        Assert.False(hosts.MayAdopt("h9", later));
    }

    [Fact]
    public void Only_live_hosts_have_agents_to_send_to()
    {
        var hosts = TwoHosts();
        hosts.Update(T0);
        hosts.SetReachable(A2, false);
        hosts.Update(T0);

        Assert.Equal(["h1"], hosts.LiveAgents(["h1", "h2", "h9", "h1"]).Keys);
        Assert.Null(hosts.AgentOf("h2"));
        Assert.NotNull(hosts.KnownAgentOf("h2"));
    }

    [Fact]
    public void Each_live_segment_gets_a_tunnel_to_the_other_live_segments_of_its_lan()
    {
        var registry = Registry.Empty.ApplyAll(
        [
            new LanRegistered("l1", 1000), new LanSegmentAdded("l1", "h1"), new LanSegmentAdded("l1", "h2"), new LanSegmentAdded("l1", "h3"),
            new LanRegistered("l2", 1001), new LanSegmentAdded("l2", "h2"),
        ]);
        var addresses = new Dictionary<string, string> { ["h1"] = "10.0.0.1", ["h2"] = "10.0.0.2" };

        var all = Tunnels.For(registry, ["h1", "h2"], addresses).Select(t => (t.Host, t.Tunnel.Lan, t.Tunnel.Vni, string.Join(",", t.Tunnel.Peers))).ToList();
        var onlyH2 = Tunnels.For(registry, ["h1", "h2"], addresses, "h2").Select(t => t.Tunnel.Lan).ToList();

        Assert.Equal([("h1", "l1", 1000, "10.0.0.2"), ("h2", "l1", 1000, "10.0.0.1"), ("h2", "l2", 1001, string.Empty)], all);
        Assert.Equal(["l1", "l2"], onlyH2);
    }
}
