using CloonixActors.Domain;

namespace CloonixActors.Tests.Domain;

public sealed class OsNamesSpecs
{
    /// <summary>IFNAMSIZ - 1: the longest interface name Linux takes.</summary>
    private const int MaxInterfaceName = 15;

    private const int MaxId = 99_999;

    private static readonly int[] SomeIds = [1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 12_345, MaxId];

    [Fact]
    public void Every_generated_interface_name_fits_in_a_Linux_interface_name()
    {
        var longest = string.Empty;
        for (var id = 1; id <= MaxId; id++)
        {
            foreach (var name in new[] { OsNames.Bridge(id), OsNames.ContainerHostIf(id, Topology.MaxNics - 1) })
            {
                if (name.Length > longest.Length)
                {
                    longest = name;
                }
            }
        }

        for (var nic = 0; nic < Topology.MaxNics; nic++)
        {
            Assert.InRange(OsNames.GuestIf(nic).Length, 1, MaxInterfaceName);
            Assert.InRange(OsNames.ContainerHostIf(MaxId, nic).Length, 1, MaxInterfaceName);
        }

        Assert.InRange(longest.Length, 1, MaxInterfaceName);
    }

    [Fact]
    public void Container_ports_are_project_interfaces_and_not_bridges()
    {
        foreach (var id in SomeIds)
        {
            for (var nic = 0; nic < Topology.MaxNics; nic++)
            {
                var name = OsNames.ContainerHostIf(id, nic);
                Assert.True(OsNames.IsProjectInterface(name), name);
                Assert.False(OsNames.IsProjectBridge(name), name);
            }
        }
    }

    [Fact]
    public void Bridges_are_project_bridges_and_not_container_ports()
    {
        foreach (var id in SomeIds)
        {
            var bridge = OsNames.Bridge(id);
            Assert.True(OsNames.IsProjectBridge(bridge), bridge);
            Assert.True(OsNames.IsProjectInterface(bridge), bridge);
        }
    }

    /// <summary>A restarted daemon adopts, and a purge finds, what an earlier build created by these names.</summary>
    [Fact]
    public void OS_names_keep_the_formats_that_running_hosts_already_use()
    {
        Assert.Equal("cxa-host1.n1", OsNames.Namespace("host1", "n1"));
        Assert.Equal("cxa-host1.", OsNames.NamespacePrefix("host1"));
        Assert.Equal("cxa.ovs.host1", OsNames.SwitchNamespace("host1"));
        Assert.Equal("cxa12n3", OsNames.ContainerHostIf(12, 3));
        Assert.Equal("cxab7", OsNames.Bridge(7));
        Assert.Equal("eth3", OsNames.GuestIf(3));
    }

    [Fact]
    public void A_container_namespace_carries_its_host_prefix()
    {
        var ns = OsNames.Namespace("host1", "n1");

        Assert.StartsWith(OsNames.NamespacePrefix("host1"), ns, StringComparison.Ordinal);
        Assert.StartsWith(OsNames.Prefix, ns, StringComparison.Ordinal);
        Assert.EndsWith("n1", ns, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("h")]
    [InlineData("host1")]
    [InlineData("a-b")]
    public void The_switch_namespace_is_never_taken_for_a_container_namespace(string host)
    {
        var ns = OsNames.SwitchNamespace(host);

        Assert.False(ns.StartsWith(OsNames.NamespacePrefix(host), StringComparison.Ordinal));
        Assert.NotEqual(OsNames.Namespace(host, "ovs"), ns);
    }

    [Theory]
    [InlineData("a", "b-c", "a-b", "c")]
    [InlineData("h", "x_y", "h_x", "y")]
    public void Hosts_and_nodes_whose_names_share_a_dash_never_share_a_namespace(string host1, string node1, string host2, string node2)
    {
        Assert.NotEqual(OsNames.Namespace(host1, node1), OsNames.Namespace(host2, node2));
        Assert.False(OsNames.Namespace(host2, node2).StartsWith(OsNames.NamespacePrefix(host1), StringComparison.Ordinal));
        Assert.False(OsNames.Namespace(host1, node1).StartsWith(OsNames.NamespacePrefix(host2), StringComparison.Ordinal));
    }

    [Fact]
    public void Different_nodes_of_one_host_get_different_namespaces_and_ports()
    {
        Assert.NotEqual(OsNames.Namespace("h", "n1"), OsNames.Namespace("h", "n2"));
        var ports = SomeIds.SelectMany(id => Enumerable.Range(0, Topology.MaxNics).Select(nic => OsNames.ContainerHostIf(id, nic))).ToList();
        Assert.Equal(ports.Count, ports.Distinct(StringComparer.Ordinal).Count());
    }
}
