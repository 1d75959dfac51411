using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

/// <summary>The reconciliation of leftovers as a function: desired state and what the host holds in, removals out.</summary>
public sealed class LeftoverPlanSpecs
{
    private const string Host = "h1";

    /// <summary>lan1 (id 1) and lan2 (id 2); container n1 (id 3); VM vm1 (id 4).</summary>
    private static readonly Topology Desired = Topology.Empty.ApplyAll(
    [
        new LanAdded("lan1", 1),
        new LanAdded("lan2", 2),
        new ContainerAdded("n1", 3, 1),
        new VmAdded("vm1", 4, "v", 256, 1, "tiny"),
    ]);

    /// <summary>Everything <see cref="Desired"/> holds, as the data plane would list it, the parking bridge included.</summary>
    private static HostInventory AllWanted() => new(
        [OsNames.Namespace(Host, "n1"), OsNames.Namespace(Host, "vm1")],
        ["vm1"],
        [OsNames.Bridge(1), OsNames.Bridge(2), LeftoverPlan.ParkingLan.Bridge],
        [OsNames.Vxlan(1), OsNames.Vxlan(2)]);

    [Fact]
    public void Nothing_goes_when_the_host_holds_nothing()
    {
        Assert.Empty(LeftoverPlan.Of(Desired, Host, HostInventory.Empty));
        Assert.Empty(LeftoverPlan.Of(Topology.Empty, Host, HostInventory.Empty));
    }

    [Fact]
    public void Nothing_goes_when_the_host_holds_only_what_the_state_wants()
    {
        Assert.Empty(LeftoverPlan.Of(Desired, Host, AllWanted()));
    }

    [Fact]
    public void Every_kind_of_leftover_goes_namespaces_first_then_vms_bridges_and_tunnels()
    {
        var found = AllWanted() with
        {
            Namespaces = [OsNames.Namespace(Host, "old"), .. AllWanted().Namespaces],
            VmDirectories = ["vm1", "gone"],
            Bridges = [OsNames.Bridge(77), .. AllWanted().Bridges],
            TunnelDevices = [OsNames.Vxlan(77), .. AllWanted().TunnelDevices],
        };

        var plan = LeftoverPlan.Of(Desired, Host, found);

        Assert.Equal(
            [
                new Leftover.Namespace(OsNames.Namespace(Host, "old")),
                new Leftover.Vm("gone"),
                new Leftover.Bridge(OsNames.Bridge(77)),
                new Leftover.Tunnel(OsNames.Vxlan(77)),
            ],
            plan);
        Assert.Equal([OsNames.Namespace(Host, "old"), "vm gone", OsNames.Bridge(77), OsNames.Vxlan(77)], plan.Select(l => l.Describe()));
    }

    [Fact]
    public void An_empty_state_removes_all_the_project_objects_of_this_host_but_keeps_the_parking_bridge()
    {
        var plan = LeftoverPlan.Of(Topology.Empty, Host, AllWanted());

        Assert.Equal(
            [
                new Leftover.Namespace(OsNames.Namespace(Host, "n1")),
                new Leftover.Namespace(OsNames.Namespace(Host, "vm1")),
                new Leftover.Vm("vm1"),
                new Leftover.Bridge(OsNames.Bridge(1)),
                new Leftover.Bridge(OsNames.Bridge(2)),
                new Leftover.Tunnel(OsNames.Vxlan(1)),
                new Leftover.Tunnel(OsNames.Vxlan(2)),
            ],
            plan);
    }

    [Fact]
    public void What_is_not_this_hosts_or_not_the_projects_is_never_named()
    {
        var found = new HostInventory(
            [OsNames.Namespace("h2", "n1"), OsNames.Namespace("h10", "x"), OsNames.SwitchNamespace(Host), "user-ns"],
            [],
            ["br-user", "ovsbr0", LeftoverPlan.ParkingLan.Bridge],
            ["vxlan0", "flannel.1"]);

        Assert.Empty(LeftoverPlan.Of(Topology.Empty, Host, found));
    }

    [Fact]
    public void A_vm_directory_goes_when_its_name_is_a_container_not_a_vm()
    {
        // The directory a VM left when it was deleted and its name given to a container.
        var plan = LeftoverPlan.Of(Desired, Host, HostInventory.Empty with { VmDirectories = ["n1", "vm1"] });

        Assert.Equal([new Leftover.Vm("n1")], plan);
    }

    [Fact]
    public void A_lan_removed_from_the_state_takes_its_bridge_and_its_tunnel_the_others_stay()
    {
        var desired = Desired.Apply(new LanRemoved("lan2"));

        var plan = LeftoverPlan.Of(desired, Host, AllWanted());

        Assert.Equal([new Leftover.Bridge(OsNames.Bridge(2)), new Leftover.Tunnel(OsNames.Vxlan(2))], plan);
    }

    [Fact]
    public void An_object_listed_twice_is_removed_once()
    {
        var found = HostInventory.Empty with
        {
            Namespaces = [OsNames.Namespace(Host, "old"), OsNames.Namespace(Host, "old")],
            Bridges = [OsNames.Bridge(9), OsNames.Bridge(9)],
        };

        Assert.Equal(
            [new Leftover.Namespace(OsNames.Namespace(Host, "old")), new Leftover.Bridge(OsNames.Bridge(9))],
            LeftoverPlan.Of(Topology.Empty, Host, found));
    }
}
