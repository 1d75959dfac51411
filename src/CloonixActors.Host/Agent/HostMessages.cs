using Akka.Actor;
using CloonixActors.DataPlane;

namespace CloonixActors.Host.Agent;

// Messages between the actors of one host. They never leave the process, so they are not bound to the
// serializer; the client-facing and persisted ones live in CloonixActors.Protocol.

/// <summary>
/// Open vSwitch is (again) up; generation counts its (re)starts so listeners re-apply their state.
/// <paramref name="Dpdk"/> says whether the running switch is the DPDK build (d nics), and if not, why.
/// </summary>
public sealed record OvsReady(int Generation, bool Dpdk = false, string DpdkWhyNot = "OVS-DPDK is not enabled");

public sealed record GetOvsInfo
{
    public static readonly GetOvsInfo Instance = new();
}

public sealed record OvsInfo(bool Ready, int? DbServerPid, int? SwitchPid, int DbServerRestarts, int SwitchRestarts, string Datapath, string? LastError, string Switch = "ovs-vswitchd");

/// <summary>Stop the OVS daemons (clean daemon shutdown); answered with <see cref="TeardownDone"/>.</summary>
public sealed record StopOvs;

/// <summary>The whole set of ports a lan's bridge must have on this host.</summary>
public sealed record SetLanMembers(IReadOnlyCollection<PortSpec> Ports, IActorRef? ReplyTo);

/// <summary>Check the data plane against the desired state now (also sent by timers).</summary>
public sealed record Reconcile
{
    public static readonly Reconcile Instance = new();
}

/// <summary>Remove what the actor owns from the OS, answer <see cref="TeardownDone"/> to ReplyTo, then stop.</summary>
public sealed record Teardown(IActorRef? ReplyTo);

public sealed record TeardownDone(string What, string? Error);

/// <summary>A container's namespace and veths exist; <paramref name="Recreated"/> lists switch-side ends made anew.</summary>
public sealed record NodeReady(string Node, IReadOnlyList<string> Recreated);

/// <summary>Sent by CoordinatedShutdown: remove this host's data plane (the desired state stays in the journal).</summary>
public sealed record TeardownDataPlane
{
    public static readonly TeardownDataPlane Instance = new();
}

/// <summary>Ports whose devices were re-created: remove and re-add them so OVS opens the new devices.</summary>
public sealed record BouncePorts(IReadOnlyCollection<string> Ports);

/// <summary>The tunnel a lan segment must have; no peers (or no id) means no VXLAN device.</summary>
public sealed record SetTunnel(int Vni, IReadOnlyCollection<string> Peers)
{
    public static readonly SetTunnel None = new(0, []);

    public bool Equals(SetTunnel? other) => other is not null && Vni == other.Vni && Peers.Order(StringComparer.Ordinal).SequenceEqual(other.Peers.Order(StringComparer.Ordinal), StringComparer.Ordinal);

    public override int GetHashCode() => Vni;
}

/// <summary>
/// How this host makes tunnels: the underlay address they start from (empty: no underlay, a host on its
/// own), the UDP port (cloonix.vxlan.port) and the inner MTU (the underlay's minus the VXLAN overhead).
/// </summary>
public sealed record TunnelSettings(string LocalAddress, int Port, int InnerMtu)
{
    public static readonly TunnelSettings None = new(string.Empty, 4789, 1500);

    public bool Enabled => !string.IsNullOrEmpty(LocalAddress);
}
