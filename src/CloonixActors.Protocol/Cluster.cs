namespace CloonixActors.Protocol;

// Messages between hosts and the lan-coordinator singleton (they cross processes: Hyperion-bound records).

/// <summary>
/// A client command handed by a host's api to the lan-coordinator, with the host the client contacted.
/// <paramref name="RequestId"/> (empty: none) makes resending safe: the coordinator acknowledges each
/// request with <see cref="RoutedAck"/> and carries out one id once, since the singleton proxy drops what it
/// sends to a coordinator that has just died.
/// </summary>
public sealed record Routed(IClientCommand Command, string ViaHost, string RequestId = "") : ICloonixMessage;

/// <summary>The coordinator has the request; its reply follows.</summary>
public sealed record RoutedAck(string RequestId) : ICloonixMessage;

/// <summary>One lan segment as a host reports it: the lan's name and the VXLAN id it last got (0: none yet).</summary>
public sealed record SegmentReport(string Lan, int Vni) : ICloonixMessage;

/// <summary>
/// A host agent tells the coordinator, every few seconds, that it is alive and what it holds: the nodes of
/// its journal, its lan segments, where its tunnels start (<paramref name="TunnelAddress"/>, empty: this host
/// has no underlay) and the MTU its nics get. The sender is where the coordinator sends the host's work.
/// The coordinator answers with one <see cref="LanTunnel"/> per segment, so tunnels converge level-triggered.
/// </summary>
public sealed record HostHello(
    string Host,
    string TunnelAddress,
    int InnerMtu,
    string[] Nodes,
    SegmentReport[] Segments) : ICloonixMessage;

/// <summary>The tunnel a host's segment of a lan must have: its VXLAN id and the addresses of the other live segments.</summary>
public sealed record LanTunnel(string Lan, int Vni, string[] Peers) : ICloonixMessage;

/// <summary>Asks the coordinator for the hosts it knows; answered with <see cref="CoordinatorView"/>.</summary>
public sealed record GetCoordinatorView : ICloonixMessage;

public sealed record HostView(string Name, string Address, string State, string TunnelAddress, int Nodes, int Segments) : ICloonixMessage;

/// <summary>Where the coordinator runs and the hosts it knows.</summary>
public sealed record CoordinatorView(string Host, string Address, HostView[] Hosts, int Lans, string Journal = "") : ICloonixMessage;

/// <summary>
/// Facts the lan-coordinator persists: cluster-wide names (which host holds each node), lans with their
/// VXLAN ids and the hosts holding a segment. Never rename or move these types (Hyperion writes type names).
/// </summary>
public interface IRegistryEvent : ICloonixMessage;

public sealed record LanRegistered(string Name, int Vni) : IRegistryEvent;

public sealed record LanSegmentAdded(string Lan, string Host) : IRegistryEvent;

public sealed record LanSegmentRemoved(string Lan, string Host) : IRegistryEvent;

public sealed record LanUnregistered(string Name) : IRegistryEvent;

public sealed record NodePlaced(string Name, string Host) : IRegistryEvent;

public sealed record NodeUnplaced(string Name) : IRegistryEvent;

/// <summary>The registry as the shortest list of events that rebuilds it.</summary>
public sealed record RegistrySnapshot(int NextVni, IRegistryEvent[] Events) : ICloonixMessage;
