using CloonixActors.DataPlane.Qemu;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

/// <summary>The one table of nic kinds and the host's binding of each.</summary>
public sealed class NicKindsSpecs
{
    [Fact]
    public void Every_kind_has_one_row_and_one_binding()
    {
        Assert.Equal(Enum.GetValues<NicKind>(), NicKinds.All.Select(k => k.Kind).Order());
        Assert.All(Enum.GetValues<NicKind>(), k => Assert.Equal(k, NicBinding.Of(k).Kind));
    }

    [Theory]
    [InlineData("d,v,s", NodeKind.Vm, new[] { NicKind.VhostUser, NicKind.Tap, NicKind.Spyable })]
    [InlineData(" v , s", NodeKind.Container, new[] { NicKind.Veth, NicKind.Spyable })]
    public void A_letter_list_parses_to_the_kinds_of_its_node_and_formats_back(string letters, NodeKind node, NicKind[] kinds)
    {
        var parsed = NicKinds.Parse(letters, node);

        Assert.Equal(kinds, parsed!.Value.ToArray());
        Assert.Equal(letters.Replace(" ", string.Empty, StringComparison.Ordinal), NicKinds.Format(kinds));
    }

    [Theory]
    [InlineData("d", NodeKind.Container)]
    [InlineData("v,d", NodeKind.Container)]
    [InlineData("x", NodeKind.Vm)]
    [InlineData("", NodeKind.Vm)]
    [InlineData("dv", NodeKind.Vm)]
    [InlineData("d,,v", NodeKind.Vm)]
    [InlineData(null, NodeKind.Vm)]
    public void A_letter_the_node_cannot_have_parses_to_nothing(string? letters, NodeKind node) =>
        Assert.Null(NicKinds.Parse(letters, node));

    [Theory]
    [InlineData(NicKind.Veth, "veth")]
    [InlineData(NicKind.VhostUser, "d")]
    [InlineData(NicKind.Tap, "v")]
    [InlineData(NicKind.Spyable, "s")]
    public void The_listing_names_each_kind_and_reads_it_back(NicKind kind, string name)
    {
        Assert.Equal(name, NicKinds.Name(kind));
        Assert.Equal(kind, NicKinds.FromName(name));
    }

    [Fact]
    public void Only_d_needs_ovs_dpdk_and_only_s_passes_the_relay()
    {
        Assert.Equal([NicKind.VhostUser], NicKinds.All.Where(k => k.NeedsOvsDpdk).Select(k => k.Kind));
        Assert.Equal([NicKind.Spyable], NicKinds.All.Where(k => k.PassesRelay).Select(k => k.Kind));
        Assert.Equal([NicKind.VhostUser], Enum.GetValues<NicKind>().Where(k => NicBinding.Of(k).ParkedOffLan));
    }

    [Fact]
    public void Each_binding_names_the_port_and_the_qemu_backend_of_its_kind()
    {
        var vm = new NodeSpec("vm1", 7, NodeKind.Vm, [NicKind.VhostUser, NicKind.Tap, NicKind.Spyable], new VmSpec(256, 1, "tiny"));
        var ports = NicBinding.Of(vm).Select(n => n.Binding.LanPort(vm, n.Nic, "/st")).ToList();
        var netdevs = NicBinding.Of(vm).Select(n => n.Binding.QemuNetdev(vm, n.Nic, "/st")).ToList();

        Assert.Equal(new CloonixActors.DataPlane.PortSpec(OsNames.VmVhostPort(7, 0), "dpdkvhostuserclient", "/st/vms/vm1/d0.sock"), ports[0]);
        Assert.Equal(new CloonixActors.DataPlane.PortSpec(OsNames.VmTap(7, 1)), ports[1]);
        Assert.Equal(new CloonixActors.DataPlane.PortSpec(OsNames.SpyPort(7, 2)), ports[2]);
        Assert.Equal<VmNetdev?>([new VmNetdev.VhostUserServer("/st/vms/vm1/d0.sock"), new VmNetdev.Tap(OsNames.VmTap(7, 1)), new VmNetdev.VhostUserClient("/st/vms/vm1/s2-node.sock")], netdevs);

        var cnt = new NodeSpec("c1", 8, NodeKind.Container, [NicKind.Veth, NicKind.Spyable]);
        Assert.Equal(new CloonixActors.DataPlane.VethPair(OsNames.ContainerHostIf(8, 0), "eth0"), NicBinding.Of(NicKind.Veth).ContainerVeth(cnt, 0));
        Assert.Null(NicBinding.Of(NicKind.Spyable).ContainerVeth(cnt, 1));
        Assert.Null(NicBinding.Of(NicKind.Veth).QemuNetdev(cnt, 0, "/st"));
    }
}
