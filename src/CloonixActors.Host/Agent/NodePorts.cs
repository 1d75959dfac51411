using CloonixActors.DataPlane;
using CloonixActors.Domain;

namespace CloonixActors.Host.Agent;

/// <summary>The lan-bridge port that carries one nic of a node, by the nic's kind.</summary>
public static class NodePorts
{
    public static PortSpec Of(NodeSpec node, int nic, string stateDir) => node.KindOf(nic) switch
    {
        NicKind.Veth => new PortSpec(OsNames.ContainerHostIf(node.Id, nic)),
        NicKind.Vhost => new PortSpec(OsNames.VmTap(node.Id, nic)),
        NicKind.Dpdk => new PortSpec(OsNames.VmVhostPort(node.Id, nic), "dpdkvhostuserclient", VmPaths.VhostSocket(stateDir, node.Name, nic)),
        NicKind.Spyable => new PortSpec(OsNames.SpyPort(node.Id, nic)),
        _ => throw new NotSupportedException($"nic kind {node.KindOf(nic)} has no lan port yet"),
    };
}
