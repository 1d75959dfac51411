namespace CloonixActors.Protocol;

/// <summary>A request from the console client. It reaches the daemon wrapped in <see cref="ClientRequest"/>.</summary>
public interface IClientCommand : ICloonixMessage;

/// <summary>A client command that changes the desired topology (persisted before it is acted on).</summary>
public interface ITopologyCommand : IClientCommand;

/// <summary>Every client request carries the shared secret of the cluster.</summary>
public sealed record ClientRequest(string Secret, IClientCommand Command) : ICloonixMessage;

/// <summary>A lan; its first segment (bridge) is made on <paramref name="Host"/>, else on the host the client contacted.</summary>
public sealed record AddLan(string Name, string? Host = null) : ITopologyCommand;

/// <summary>
/// A container: a network namespace with one nic per entry of <paramref name="Nics"/>, eth0 first, each
/// <see cref="NicKind.Veth"/> (a veth pair) or <see cref="NicKind.Spyable"/> (a tap in the container joined
/// to the lan by the relay). The client parses the letters users type (v, s); the host agent checks the kinds.
/// </summary>
/// <remarks><paramref name="Host"/> places it on that host; null lets the lan-coordinator pick the least loaded one.</remarks>
public sealed record AddContainer(string Name, NicKind[] Nics, string? Host = null) : ITopologyCommand
{
    /// <summary>A container of <paramref name="veths"/> veth nics only, as `add cnt --nics N` asks for.</summary>
    public AddContainer(string name, int veths, string? host = null)
        : this(name, [.. Enumerable.Repeat(NicKind.Veth, veths)], host)
    {
    }

    /// <summary>By value: the same name, nic kinds and host are the same command.</summary>
    public bool Equals(AddContainer? other) =>
        other is not null && Name == other.Name && Nics.AsSpan().SequenceEqual(other.Nics) && Host == other.Host;

    public override int GetHashCode() => HashCode.Combine(Name, Nics?.Length, Host);
}

/// <summary>
/// A QEMU VM with one nic per entry of <paramref name="Nics"/>: <see cref="NicKind.VhostUser"/> (d, a port
/// on OVS-DPDK), <see cref="NicKind.Tap"/> (v, a tap on the lan bridge) or <see cref="NicKind.Spyable"/>
/// (s, through the relay). <paramref name="Image"/> is "tiny" (the image `cloonix image build tiny` makes)
/// or the absolute path of a qcow2 or raw disk.
/// </summary>
public sealed record AddVm(string Name, NicKind[] Nics, int RamMb, int Cpus, string Image, string? Host = null) : ITopologyCommand
{
    public bool Equals(AddVm? other) =>
        other is not null && Name == other.Name && Nics.AsSpan().SequenceEqual(other.Nics)
        && RamMb == other.RamMb && Cpus == other.Cpus && Image == other.Image && Host == other.Host;

    public override int GetHashCode() => HashCode.Combine(Name, Nics?.Length, RamMb, Cpus, Image, Host);
}

/// <summary>Delete a node or a lan by name. A lan with attached nics is refused unless <paramref name="Force"/>.</summary>
public sealed record DeleteObject(string Name, bool Force) : ITopologyCommand;

public sealed record ConnectNic(string Node, int Nic, string Lan) : ITopologyCommand;

public sealed record DisconnectNic(string Node, int Nic) : ITopologyCommand;

/// <summary>
/// A whole topology in one request (a topology file): every lan, container and endpoint is checked first,
/// and either all of it is recorded and deployed, or nothing is.
/// </summary>
/// <remarks>
/// <paramref name="Host"/> puts every node that names no host of its own on that host; null spreads them
/// over the least loaded hosts. <paramref name="Impairments"/> apply to nics of the nodes deployed here,
/// after the endpoints. <paramref name="LanHosts"/> gives lans a segment on a host that none of their
/// members is on (as `add lan --host` does).
/// </remarks>
public sealed record DeployTopology(
    string[] Lans,
    ContainerSpec[] Containers,
    EndpointSpec[] Endpoints,
    string? Host = null,
    VmNodeSpec[]? Vms = null,
    ImpairNic[]? Impairments = null,
    LanPlacement[]? LanHosts = null) : ITopologyCommand;

/// <summary>A container of a deploy, <paramref name="Nics"/> as for <see cref="AddContainer"/>.</summary>
public sealed record ContainerSpec(string Name, NicKind[] Nics, string? Host = null) : ICloonixMessage
{
    /// <summary>A container of <paramref name="veths"/> veth nics.</summary>
    public ContainerSpec(string name, int veths, string? host = null)
        : this(name, [.. Enumerable.Repeat(NicKind.Veth, veths)], host)
    {
    }

    public bool Equals(ContainerSpec? other) =>
        other is not null && Name == other.Name && Nics.AsSpan().SequenceEqual(other.Nics) && Host == other.Host;

    public override int GetHashCode() => HashCode.Combine(Name, Nics?.Length, Host);
}

/// <summary>A VM of a deploy, with the fields of <see cref="AddVm"/>.</summary>
public sealed record VmNodeSpec(string Name, NicKind[] Nics, int RamMb, int Cpus, string Image, string? Host = null) : ICloonixMessage
{
    public bool Equals(VmNodeSpec? other) =>
        other is not null && Name == other.Name && Nics.AsSpan().SequenceEqual(other.Nics)
        && RamMb == other.RamMb && Cpus == other.Cpus && Image == other.Image && Host == other.Host;

    public override int GetHashCode() => HashCode.Combine(Name, Nics?.Length, RamMb, Cpus, Image, Host);
}

/// <summary>A segment (bridge) of <paramref name="Lan"/> on <paramref name="Host"/>, members or not.</summary>
public sealed record LanPlacement(string Lan, string Host) : ICloonixMessage;

public sealed record EndpointSpec(string Node, int Nic, string Lan) : ICloonixMessage;

/// <summary>Remove every node and lan of the lab, and every OS object left behind with the project's prefix.</summary>
public sealed record PurgeAll : ITopologyCommand;

public sealed record ListTopology : IClientCommand;

/// <summary>Build a guest image on the host ("tiny": a Debian cloud kernel and a busybox initramfs with the guest agent).</summary>
public sealed record BuildImage(string Name) : IClientCommand;

public sealed record GetStatus : IClientCommand;

/// <summary>Run a program inside a node: an argument list, never a shell line.</summary>
public sealed record ExecInNode(string Node, string[] Argv, int TimeoutSeconds) : IClientCommand;
