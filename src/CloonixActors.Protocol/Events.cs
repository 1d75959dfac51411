namespace CloonixActors.Protocol;

/// <summary>
/// Facts about the desired topology, persisted by the host agent's journal.
/// Hyperion writes type names into the payload: never rename or move these types, only add new ones.
/// </summary>
public interface ITopologyEvent : ICloonixMessage;

public sealed record LanAdded(string Name, int Id) : ITopologyEvent;

public sealed record LanRemoved(string Name) : ITopologyEvent;

public sealed record ContainerAdded(string Name, int Id, int Nics) : ITopologyEvent;

public sealed record NodeRemoved(string Name) : ITopologyEvent;

public sealed record NicConnected(string Node, int Nic, string Lan) : ITopologyEvent;

public sealed record NicDisconnected(string Node, int Nic, string Lan) : ITopologyEvent;

/// <summary>A compact form of the whole desired topology, saved as a snapshot every N events.</summary>
public sealed record TopologySnapshot(
    int NextId,
    LanAdded[] Lans,
    ContainerAdded[] Containers,
    NicConnected[] Endpoints) : ICloonixMessage;
