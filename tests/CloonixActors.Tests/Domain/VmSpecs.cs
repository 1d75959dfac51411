using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

public sealed class VmSpecs
{
    private static readonly HostFacts Host = new(4096, 2, Dpdk: true, DpdkWhyNot: string.Empty);

    private static Decision Decide(AddVm vm, HostFacts? facts = null) => Topology.Empty.Decide(vm, facts ?? Host);

    [Fact]
    public void A_vm_records_one_nic_kind_per_nic()
    {
        var d = Decide(new AddVm("vm1", [NicKind.VhostUser, NicKind.Tap, NicKind.Tap], 256, 1, "tiny"));

        var added = Assert.IsType<VmNodeAdded>(Assert.Single(d.Events));
        Assert.Equal([NicKind.VhostUser, NicKind.Tap, NicKind.Tap], added.Nics);
        var node = Topology.Empty.ApplyAll(d.Events).Nodes["vm1"];
        Assert.Equal(NodeKind.Vm, node.Kind);
        Assert.Equal(3, node.Nics);
        Assert.Equal([NicKind.VhostUser, NicKind.Tap, NicKind.Tap], Enumerable.Range(0, 3).Select(node.KindOf));
    }

    public static TheoryData<NicKind[], string> BadNics => new()
    {
        { null!, "lists no nics" },
        { [], "1 to 32 nics, not 0" },
        { [.. Enumerable.Repeat(NicKind.Tap, 33)], "1 to 32 nics, not 33" },
        { [NicKind.Tap, (NicKind)7], "nic 1 has kind 7, which is no nic kind: each nic of a vm is d, v or s" },
        { [NicKind.Veth], "nic 0 is a Veth nic, which a vm cannot have: each nic of a vm is d, v or s" },
    };

    /// <summary>The client parses letters, but a request can be made by hand: the host agent checks the kinds again.</summary>
    [Theory]
    [MemberData(nameof(BadNics))]
    public void Nic_kinds_a_vm_cannot_have_are_refused_with_one_reason(NicKind[] nics, string expected)
    {
        var d = Decide(new AddVm("vm1", nics, 256, 1, "tiny"));

        Assert.Empty(d.Events);
        Assert.Equal(ErrorCode.InvalidArgument, d.Rejection!.Code);
        Assert.Contains(expected, d.Rejection.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(63)]
    [InlineData(4097)]
    public void Ram_outside_64_mb_and_the_hosts_memory_is_refused(int ram) =>
        Assert.Contains("host's memory", Decide(new AddVm("vm1", [NicKind.Tap], ram, 1, "tiny")).Rejection!.Message, StringComparison.Ordinal);

    [Fact]
    public void More_cpus_than_the_host_has_are_refused() =>
        Assert.Contains("host's cores", Decide(new AddVm("vm1", [NicKind.Tap], 256, 3, "tiny")).Rejection!.Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("relative.qcow2")]
    [InlineData("/srv/../etc/shadow")]
    [InlineData("/srv/a,b.qcow2")]
    [InlineData("")]
    public void Images_are_tiny_or_a_clean_absolute_path(string image) =>
        Assert.Equal(ErrorCode.InvalidArgument, Decide(new AddVm("vm1", [NicKind.Tap], 256, 1, image)).Rejection!.Code);

    [Fact]
    public void D_nics_on_a_host_without_dpdk_are_refused_with_the_reason()
    {
        var d = Decide(new AddVm("vm1", [NicKind.VhostUser], 256, 1, "tiny"), Host with { Dpdk = false, DpdkWhyNot = "no hugepages" });

        Assert.Equal(ErrorCode.Unavailable, d.Rejection!.Code);
        Assert.Contains("no hugepages", d.Rejection.Message, StringComparison.Ordinal);
        Assert.True(Decide(new AddVm("vm1", [NicKind.Tap], 256, 1, "tiny"), Host with { Dpdk = false }).Accepted);
    }

    [Fact]
    public void A_vm_survives_a_snapshot_round_trip()
    {
        var state = Topology.Empty.ApplyAll(Decide(new AddVm("vm1", [NicKind.VhostUser, NicKind.Tap], 512, 2, "/srv/base.qcow2")).Events);

        var restored = Topology.FromSnapshot(state.ToSnapshot());

        Assert.Equal(state.Nodes["vm1"], restored.Nodes["vm1"]);
        Assert.Equal(state.NextId, restored.NextId);
    }
}
