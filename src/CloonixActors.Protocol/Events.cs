namespace CloonixActors.Protocol;

/// <summary>
/// Facts about the desired topology, persisted by the host agent's journal.
/// Hyperion writes type names into the payload: never rename or move these types, only add new ones.
/// </summary>
public interface ITopologyEvent : ICloonixMessage;

public sealed record LanAdded(string Name, int Id) : ITopologyEvent;

public sealed record LanRemoved(string Name) : ITopologyEvent;

/// <summary>
/// A container of veth nics only, as journals of earlier releases hold it (with <see cref="ContainerNicKinds"/>
/// after it when it had s nics); still read on recovery. New containers are <see cref="ContainerNodeAdded"/>.
/// </summary>
public sealed record ContainerAdded(string Name, int Id, int Nics) : ITopologyEvent;

/// <summary>
/// A VM as journals of earlier releases hold it, <paramref name="NicTypes"/> one letter per nic (d, v or s);
/// still read on recovery. New VMs are <see cref="VmNodeAdded"/>.
/// </summary>
public sealed record VmAdded(string Name, int Id, string NicTypes, int RamMb, int Cpus, string Image) : ITopologyEvent;

/// <summary>A container with the kind of each of its nics (<see cref="NicKind.Veth"/> or <see cref="NicKind.Spyable"/>).</summary>
public sealed record ContainerNodeAdded(string Name, int Id, NicKind[] Nics) : ITopologyEvent
{
    public bool Equals(ContainerNodeAdded? other) =>
        other is not null && Name == other.Name && Id == other.Id && Nics.AsSpan().SequenceEqual(other.Nics);

    public override int GetHashCode() => HashCode.Combine(Name, Id, Nics.Length);
}

/// <summary>A QEMU VM with the kind of each of its nics (<see cref="NicKind.VhostUser"/>, <see cref="NicKind.Tap"/> or <see cref="NicKind.Spyable"/>).</summary>
public sealed record VmNodeAdded(string Name, int Id, NicKind[] Nics, int RamMb, int Cpus, string Image) : ITopologyEvent
{
    public bool Equals(VmNodeAdded? other) =>
        other is not null && Name == other.Name && Id == other.Id && Nics.AsSpan().SequenceEqual(other.Nics)
        && RamMb == other.RamMb && Cpus == other.Cpus && Image == other.Image;

    public override int GetHashCode() => HashCode.Combine(Name, Id, Nics.Length, RamMb, Cpus, Image);
}

public sealed record NodeRemoved(string Name) : ITopologyEvent;

/// <summary>
/// Followed <see cref="ContainerAdded"/> in journals of earlier releases when the container had s nics: one
/// letter per nic, v (veth) or s. Still read on recovery, folded into the node's nic kinds; no longer written.
/// </summary>
public sealed record ContainerNicKinds(string Name, string NicTypes) : ITopologyEvent;

public sealed record NicConnected(string Node, int Nic, string Lan) : ITopologyEvent;

public sealed record NicDisconnected(string Node, int Nic, string Lan) : ITopologyEvent;

/// <summary>
/// The whole desired topology as the shortest list of events that rebuilds it, saved every N events.
/// Being a list of events, it needs no new shape when new kinds of event arrive.
/// </summary>
public sealed record LabSnapshot(int NextId, ITopologyEvent[] Events) : ICloonixMessage;

/// <summary>The first snapshot form (containers only); still read when recovering an older journal.</summary>
public sealed record TopologySnapshot(
    int NextId,
    LanAdded[] Lans,
    ContainerAdded[] Containers,
    NicConnected[] Endpoints) : ICloonixMessage;

/// <summary>
/// The impairment of one direction ("in" or "out") of an s nic; all zero removes it. Delay and jitter in
/// milliseconds, loss in percent, rate in Mbit/s (0 = no cap).
/// </summary>
public sealed record NicImpaired(string Node, int Nic, string Direction, double DelayMs, double JitterMs, double LossPercent, double RateMbit) : ITopologyEvent;

/// <summary>
/// A probe write after a journal outage, in a stream of its own (<c>journal-probe-</c> and the owner's
/// persistence id): the journal takes writes again, not only reads (a full disk still reads).
/// </summary>
public sealed record JournalProbed(string Owner, long AtUnixMs) : ICloonixMessage;
