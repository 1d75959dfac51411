using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

public sealed class RegistrySpecs
{
    private static readonly string[] Live = ["h1", "h2", "h3"];

    private static Registry Run(Registry r, RegistryDecision d)
    {
        Assert.True(d.Accepted, d.Rejection?.Message);
        return r.ApplyAll(d.Events);
    }

    /// <summary>lan1 on h1 and h2; n1 on h1, n2 on h2, n3 on h1.</summary>
    private static Registry Cluster()
    {
        var r = Registry.Empty;
        r = Run(r, r.AddLan("lan1", "h1", Live));
        r = Run(r, r.EnsureSegment("lan1", "h2"));
        r = Run(r, r.PlaceNode("n1", "h1", Live));
        r = Run(r, r.PlaceNode("n2", "h2", Live));
        return Run(r, r.PlaceNode("n3", "h1", Live));
    }

    [Fact]
    public void A_lan_gets_the_next_vxlan_id_and_its_first_segment()
    {
        var r = Registry.Empty;
        var d = r.AddLan("lan1", "h2", Live);

        Assert.Equal<IRegistryEvent>([new LanRegistered("lan1", Registry.FirstVni), new LanSegmentAdded("lan1", "h2")], d.Events);
        r = r.ApplyAll(d.Events);
        Assert.Equal(Registry.FirstVni + 1, r.NextVni);
        Assert.Equal(Registry.FirstVni + 1, ((LanRegistered)r.AddLan("lan2", "h1", Live).Events[0]).Vni);
    }

    [Fact]
    public void Vxlan_ids_are_never_reused_after_a_lan_is_removed()
    {
        var r = Cluster();
        r = Run(r, r.RemoveLan("lan1"));
        Assert.Empty(r.Lans);
        Assert.Equal(Registry.FirstVni + 1, ((LanRegistered)r.AddLan("lan1", "h1", Live).Events[0]).Vni);
    }

    [Theory]
    [InlineData("n1")]
    [InlineData("lan1")]
    public void A_name_is_unique_across_hosts_and_kinds(string name)
    {
        var r = Cluster();
        Assert.Equal(ErrorCode.AlreadyExists, r.PlaceNode(name, "h3", Live).Rejection?.Code);
        Assert.Equal(ErrorCode.AlreadyExists, r.AddLan(name, "h3", Live).Rejection?.Code);
    }

    [Theory]
    [InlineData("")]
    [InlineData("N1")]
    [InlineData("a;b")]
    [InlineData("$(id)")]
    [InlineData("abcdefghijklmnop")]
    public void Invalid_names_are_refused(string name)
    {
        Assert.Equal(ErrorCode.InvalidArgument, Registry.Empty.PlaceNode(name, null, Live).Rejection?.Code);
        Assert.Equal(ErrorCode.InvalidArgument, Registry.Empty.AddLan(name, null, Live).Rejection?.Code);
        Assert.Equal(ErrorCode.InvalidArgument, Registry.Empty.PlaceNode("n1", name, Live).Rejection?.Code);
    }

    [Fact]
    public void Placement_picks_the_least_loaded_live_host_and_the_first_by_name_on_a_tie()
    {
        var r = Cluster(); // h1: 2 nodes, h2: 1, h3: 0
        Assert.Equal(new NodePlaced("n4", "h3"), r.PlaceNode("n4", null, Live).Events.Single());
        Assert.Equal(new NodePlaced("n4", "h2"), r.PlaceNode("n4", null, ["h1", "h2"]).Events.Single());
        Assert.Equal(new NodePlaced("n4", "h1"), Registry.Empty.PlaceNode("n4", null, Live).Events.Single());
    }

    [Fact]
    public void A_requested_host_must_be_live()
    {
        var r = Cluster();
        Assert.Equal(new NodePlaced("n4", "h1"), r.PlaceNode("n4", "h1", Live).Events.Single());
        var refused = r.PlaceNode("n4", "h9", Live).Rejection;
        Assert.Equal(ErrorCode.Unavailable, refused?.Code);
        Assert.Contains("h9", refused!.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.Unavailable, r.PlaceNode("n4", null, []).Rejection?.Code);
    }

    [Fact]
    public void A_segment_is_added_once_and_only_for_a_known_lan()
    {
        var r = Cluster();
        Assert.Empty(r.EnsureSegment("lan1", "h1").Events);
        Assert.Equal(new LanSegmentAdded("lan1", "h3"), r.EnsureSegment("lan1", "h3").Events.Single());
        Assert.Equal(ErrorCode.NotFound, r.EnsureSegment("nolan", "h1").Rejection?.Code);
        Assert.Contains("is a node", r.EnsureSegment("n1", "h1").Rejection!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Peers_are_the_other_live_segments_of_the_lan()
    {
        var r = Cluster();
        r = Run(r, r.EnsureSegment("lan1", "h3"));
        var addresses = new Dictionary<string, string> { ["h1"] = "198.18.100.1", ["h2"] = "198.18.100.2", ["h3"] = "198.18.100.3" };

        Assert.Equal(["198.18.100.2", "198.18.100.3"], r.Peers("lan1", "h1", addresses));
        addresses.Remove("h2"); // h2 lost
        Assert.Equal(["198.18.100.3"], r.Peers("lan1", "h1", addresses));
        Assert.Empty(r.Peers("lan1", "h9", addresses));
        Assert.Empty(r.Peers("nolan", "h1", addresses));
        addresses["h3"] = string.Empty; // a host without an underlay gets no tunnel
        Assert.Empty(r.Peers("lan1", "h1", addresses));
    }

    [Fact]
    public void A_host_report_is_adopted_new_names_added_and_vanished_ones_dropped()
    {
        var r = Cluster();
        // h1 reports n1 (kept), n5 (new), not n3 (gone); segments lan1 (kept) and lan7 with id 4242 (new).
        var d = r.Adopt("h1", ["n1", "n5"], [new SegmentReport("lan1", 0), new SegmentReport("lan7", 4242)]);
        r = r.ApplyAll(d.Events);

        Assert.Equal("h1", r.HostOf("n5"));
        Assert.Null(r.HostOf("n3"));
        Assert.Equal(4242, r.Lans["lan7"].Vni);
        Assert.Equal(["h1"], r.Lans["lan7"].Hosts);
        Assert.Empty(r.Adopt("h1", ["n1", "n5"], [new SegmentReport("lan1", 0), new SegmentReport("lan7", 4242)]).Events);
    }

    [Fact]
    public void Adoption_keeps_a_name_held_by_another_host_and_a_vxlan_id_in_use()
    {
        var r = Cluster();
        var vni = r.Lans["lan1"].Vni;
        var d = r.Adopt("h3", ["n2"], [new SegmentReport("lan8", vni)]);
        r = r.ApplyAll(d.Events);

        Assert.Equal("h2", r.HostOf("n2"));
        Assert.NotEqual(vni, r.Lans["lan8"].Vni);
    }

    [Fact]
    public void A_host_that_no_longer_holds_the_last_segment_of_a_lan_removes_the_lan()
    {
        var r = Registry.Empty;
        r = Run(r, r.AddLan("lan1", "h1", Live));
        var d = r.Adopt("h1", [], []);
        Assert.Equal<IRegistryEvent>([new LanSegmentRemoved("lan1", "h1"), new LanUnregistered("lan1")], d.Events);
    }

    [Fact]
    public void A_snapshot_rebuilds_the_same_registry()
    {
        var r = Cluster();
        var back = Registry.FromSnapshot(r.ToSnapshot());

        Assert.Equal(r.NextVni, back.NextVni);
        Assert.Equal(r.Nodes, back.Nodes);
        Assert.Equal(r.Lans.Keys, back.Lans.Keys);
        Assert.Equal(r.Lans["lan1"].Hosts, back.Lans["lan1"].Hosts);
        Assert.Equal(r.Lans["lan1"].Vni, back.Lans["lan1"].Vni);
    }

    [Fact]
    public void A_lan_added_without_a_host_in_a_cluster_of_several_gets_no_segment_until_it_has_members()
    {
        Assert.Equal<IRegistryEvent>([new LanRegistered("lan1", Registry.FirstVni)], Registry.Empty.AddLan("lan1", null, Live).Events);
        Assert.Equal<IRegistryEvent>([new LanRegistered("lan1", Registry.FirstVni), new LanSegmentAdded("lan1", "h1")], Registry.Empty.AddLan("lan1", null, ["h1"]).Events);
        Assert.Equal(ErrorCode.Unavailable, Registry.Empty.AddLan("lan1", null, []).Rejection?.Code);
    }
}
