using CloonixActors.Domain;
using CloonixActors.Protocol;
using static CloonixActors.Tests.Domain.TopologyAssert;

namespace CloonixActors.Tests.Domain;

public sealed class ImpairmentSpecs
{
    /// <summary>vm1 with an s nic and a d nic, and a container.</summary>
    private static Topology Lab() => Topology.Empty.RunAll(new AddVm("vm1", [NicKind.Spyable, NicKind.VhostUser], 256, 1, "tiny"), new AddContainer("c1", 1));

    [Fact]
    public void Both_directions_become_two_events_and_the_state_holds_each()
    {
        var d = Lab().Decide(new ImpairNic("vm1", 0, "both", 40, 5, 1, 100));

        Assert.Equal(
            [new NicImpaired("vm1", 0, "in", 40, 5, 1, 100), new NicImpaired("vm1", 0, "out", 40, 5, 1, 100)],
            d.Events.Cast<NicImpaired>());
        var state = Lab().ApplyAll(d.Events);
        Assert.Equal(new ImpairmentSpec(40, 5, 1, 100), state.ImpairmentOf(new NicRef("vm1", 0), "in"));
        Assert.Equal("delay 40 ms jitter 5 ms loss 1 % rate 100 Mbit/s", state.ImpairmentOf(new NicRef("vm1", 0), "out").ToString());
    }

    [Fact]
    public void All_zero_removes_an_impairment_and_one_direction_leaves_the_other()
    {
        var state = Lab().RunAll(new ImpairNic("vm1", 0, "both", 40, 0, 0, 0), new ImpairNic("vm1", 0, "in", 0, 0, 0, 0));

        Assert.Equal(ImpairmentSpec.None, state.ImpairmentOf(new NicRef("vm1", 0), "in"));
        Assert.Equal(40, state.ImpairmentOf(new NicRef("vm1", 0), "out").DelayMs);
        Assert.Single(state.Impairments);
    }

    [Fact]
    public void The_snapshot_keeps_impairments_and_removing_the_node_drops_them()
    {
        var state = Lab().Run(new ImpairNic("vm1", 0, "out", 0, 0, 25, 0));

        var restored = Topology.FromSnapshot(state.ToSnapshot());
        Assert.Equal(state.Impairments.ToList(), restored.Impairments.ToList());
        Assert.Empty(state.Run(new DeleteObject("vm1", false)).Impairments);
    }

    [Theory]
    [InlineData("vm1", 1, "both", 10, 0, 0, 0, ErrorCode.InvalidArgument, "is a d nic")]
    [InlineData("c1", 0, "both", 10, 0, 0, 0, ErrorCode.InvalidArgument, "is a veth nic")]
    [InlineData("vm1", 2, "both", 10, 0, 0, 0, ErrorCode.InvalidArgument, "there is no nic 2")]
    [InlineData("nobody", 0, "both", 10, 0, 0, 0, ErrorCode.NotFound, "no node named")]
    [InlineData("vm1", 0, "sideways", 10, 0, 0, 0, ErrorCode.InvalidArgument, "in, out or both")]
    [InlineData("vm1", 0, "both", -1, 0, 0, 0, ErrorCode.InvalidArgument, "--delay")]
    [InlineData("vm1", 0, "both", 10, 11, 0, 0, ErrorCode.InvalidArgument, "--jitter")]
    [InlineData("vm1", 0, "both", 0, 0, 101, 0, ErrorCode.InvalidArgument, "--loss")]
    [InlineData("vm1", 0, "both", 0, 0, 0, -5, ErrorCode.InvalidArgument, "--rate")]
    [InlineData("vm1", 0, "both", double.NaN, 0, 0, 0, ErrorCode.InvalidArgument, "--delay")]
    [InlineData("vm1", 0, "both", 0, 0, double.PositiveInfinity, 0, ErrorCode.InvalidArgument, "--loss")]
    public void Bad_impairments_are_refused_with_one_reason(string node, int nic, string dir, double delay, double jitter, double loss, double rate, ErrorCode code, string why)
    {
        var rejection = Rejected(Lab().Decide(new ImpairNic(node, nic, dir, delay, jitter, loss, rate)), code);
        Assert.Contains(why, rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_container_may_have_s_nics_which_survive_the_snapshot_and_can_be_impaired()
    {
        var d = Topology.Empty.Decide(new AddContainer("c2", [NicKind.Veth, NicKind.Spyable]));
        Assert.Equal(new ITopologyEvent[] { new ContainerNodeAdded("c2", 1, [NicKind.Veth, NicKind.Spyable]) }, d.Events.ToArray());
        var state = Topology.Empty.ApplyAll(d.Events).Run(new ImpairNic("c2", 1, "in", 5, 0, 0, 0));

        Assert.Equal([NicKind.Veth, NicKind.Spyable], Enumerable.Range(0, 2).Select(state.Nodes["c2"].KindOf));
        var restored = Topology.FromSnapshot(state.ToSnapshot());
        Assert.Equal(state.Nodes["c2"], restored.Nodes["c2"]);
        Assert.Equal(5, restored.ImpairmentOf(new NicRef("c2", 1), "in").DelayMs);
    }

    public static TheoryData<NicKind[], string> KindsNoContainerHas => new()
    {
        { [NicKind.Veth, NicKind.VhostUser], "nic 1 is a VhostUser nic, which a container cannot have: each nic of a container is v (veth) or s (spyable)" },
        { [NicKind.Tap], "nic 0 is a Tap nic, which a container cannot have" },
        { [NicKind.Spyable, (NicKind)(-1)], "nic 1 has kind -1, which is no nic kind: each nic of a container is v (veth) or s (spyable)" },
    };

    [Theory]
    [MemberData(nameof(KindsNoContainerHas))]
    public void Container_nic_kinds_other_than_veth_and_spyable_are_refused(NicKind[] nics, string expected) =>
        Assert.Contains(expected, Rejected(Topology.Empty.Decide(new AddContainer("c2", nics)), ErrorCode.InvalidArgument).Message, StringComparison.Ordinal);
}
