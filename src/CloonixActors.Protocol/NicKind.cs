namespace CloonixActors.Protocol;

/// <summary>
/// What a nic of a node is, by how its frames reach the lan. The letters users type (v, d, s), the names
/// the listing writes, the node kinds that may have each and what the host needs for it are in one table,
/// CloonixActors.Domain.NicKinds; the host's side of each (lan port, QEMU netdev, relay, parking) is
/// CloonixActors.Host.Agent.NicBinding.
/// </summary>
/// <remarks>
/// The members are named after the mechanism, not the letter: the letter v means <see cref="Veth"/> on a
/// container and <see cref="Tap"/> on a VM, and d is the vhost-user port on OVS-DPDK (the members were
/// once called Vhost for the tap and Dpdk for vhost-user, which read the wrong way round).
/// Persisted by number in topology events: never renumber a member, only add new ones.
/// </remarks>
public enum NicKind
{
    /// <summary>v on a container: a veth pair, the host end a port of the lan bridge.</summary>
    Veth = 0,

    /// <summary>d on a VM: a vhost-user port of OVS-DPDK (QEMU serves the socket, OVS connects to it).</summary>
    VhostUser = 1,

    /// <summary>v on a VM: a tap QEMU opens, a port of the lan bridge.</summary>
    Tap = 2,

    /// <summary>s on either: the nic's frames pass the relay (capture, impairment), which reaches the lan through a tap of its own.</summary>
    Spyable = 3,
}
