namespace CloonixActors.Protocol;

/// <summary>A request from the console client. It reaches the daemon wrapped in <see cref="ClientRequest"/>.</summary>
public interface IClientCommand : ICloonixMessage;

/// <summary>A client command that changes the desired topology (persisted before it is acted on).</summary>
public interface ITopologyCommand : IClientCommand;

/// <summary>Every client request carries the shared secret of the cluster.</summary>
public sealed record ClientRequest(string Secret, IClientCommand Command) : ICloonixMessage;

/// <summary>A lan; its first segment (bridge) is made on <paramref name="Host"/>, else on the host the client contacted.</summary>
public sealed record AddLan(string Name, string? Host = null) : ITopologyCommand;

/// <summary>A container: a network namespace with nics eth0..eth(N-1).</summary>
/// <summary>
/// A container with <paramref name="Nics"/> nics; <paramref name="NicTypes"/>, when given, has one letter
/// per nic: v (a veth pair) or s (spyable: a tap in the container joined to the lan by the relay).
/// </summary>
/// <remarks><paramref name="Host"/> places it on that host; null lets the lan-coordinator pick the least loaded one.</remarks>
public sealed record AddContainer(string Name, int Nics, string? Host = null, string? NicTypes = null) : ITopologyCommand;

/// <summary>
/// A QEMU VM. <paramref name="Nics"/> lists one letter per nic, comma separated ("d,v,v"): d a vhost-user
/// port on OVS-DPDK, v a tap on the lan bridge, s a spyable nic through the relay. <paramref name="Image"/>
/// is "tiny" (the image `cloonix image build tiny` makes) or the absolute path of a qcow2 or raw disk.
/// </summary>
public sealed record AddVm(string Name, string Nics, int RamMb, int Cpus, string Image, string? Host = null) : ITopologyCommand;

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

/// <summary>A container of a deploy; <paramref name="NicTypes"/> as for <see cref="AddContainer"/> ("v,s"), null for veth nics only.</summary>
public sealed record ContainerSpec(string Name, int Nics, string? NicTypes = null, string? Host = null) : ICloonixMessage;

/// <summary>A VM of a deploy, with the fields of <see cref="AddVm"/>.</summary>
public sealed record VmNodeSpec(string Name, string Nics, int RamMb, int Cpus, string Image, string? Host = null) : ICloonixMessage;

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
