using CloonixActors.DataPlane;
using CloonixActors.Domain;

namespace CloonixActors.Host.Agent;

/// <summary>The lan-bridge port that carries one nic of a node, as the nic's <see cref="NicBinding"/> makes it.</summary>
public static class NodePorts
{
    public static PortSpec Of(NodeSpec node, int nic, string stateDir) => NicBinding.Of(node.KindOf(nic)).LanPort(node, nic, stateDir);
}
