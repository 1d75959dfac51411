using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Agent;

/// <summary>
/// What this host makes of one nic kind (<see cref="NicKind"/>; letters, names and which nodes may have
/// which are in <see cref="NicKinds"/>): its port on the lan bridge, its QEMU backend on a VM, its veth on a
/// container, whether a relay carries it and whether it is parked while on no lan. The node actors, the
/// lan ports and the parking bridge ask the binding, so a new kind is one more binding here.
/// </summary>
public abstract class NicBinding
{
    private static readonly NicBinding VethBinding = new Veth();
    private static readonly NicBinding VhostUserBinding = new VhostUser();
    private static readonly NicBinding TapBinding = new Tap();
    private static readonly NicBinding SpyableBinding = new Spyable();

    private NicBinding()
    {
    }

    public abstract NicKind Kind { get; }

    /// <summary>A relay (SpyActor) carries the nic's frames: it can be captured and impaired.</summary>
    public bool Relayed => NicKinds.Of(Kind).PassesRelay;

    /// <summary>While on no lan the nic has a port on the parking bridge (see HostAgent.ParkedPorts).</summary>
    public virtual bool ParkedOffLan => false;

    /// <summary>The port of the lan bridge that carries nic <paramref name="nic"/> of <paramref name="node"/>.</summary>
    public abstract PortSpec LanPort(NodeSpec node, int nic, string stateDir);

    /// <summary>The QEMU backend of the nic on a VM; a kind no VM has has none.</summary>
    public virtual VmNetdev? QemuNetdev(NodeSpec node, int nic, string stateDir) => null;

    /// <summary>The veth pair the container's namespace is made with for this nic, if any.</summary>
    public virtual VethPair? ContainerVeth(NodeSpec node, int nic) => null;

    public static NicBinding Of(NicKind kind) => kind switch
    {
        NicKind.Veth => VethBinding,
        NicKind.VhostUser => VhostUserBinding,
        NicKind.Tap => TapBinding,
        NicKind.Spyable => SpyableBinding,
        _ => throw new NotSupportedException($"nic kind {kind} has no binding on this host"),
    };

    /// <summary>Each nic of <paramref name="node"/> with its binding.</summary>
    public static IEnumerable<(int Nic, NicBinding Binding)> Of(NodeSpec node) =>
        Enumerable.Range(0, node.Nics).Select(i => (i, Of(node.KindOf(i))));

    /// <summary>Container v: a veth pair whose host end is the lan port.</summary>
    private sealed class Veth : NicBinding
    {
        public override NicKind Kind => NicKind.Veth;

        public override PortSpec LanPort(NodeSpec node, int nic, string stateDir) => new(OsNames.ContainerHostIf(node.Id, nic));

        public override VethPair ContainerVeth(NodeSpec node, int nic) => new(OsNames.ContainerHostIf(node.Id, nic), OsNames.GuestIf(nic));
    }

    /// <summary>VM d: QEMU serves a vhost-user socket, an OVS-DPDK port connects to it.</summary>
    private sealed class VhostUser : NicBinding
    {
        public override NicKind Kind => NicKind.VhostUser;

        /// <summary>QEMU waits for OVS to connect to its socket before it boots the guest, lan or not.</summary>
        public override bool ParkedOffLan => true;

        public override PortSpec LanPort(NodeSpec node, int nic, string stateDir) =>
            new(OsNames.VmVhostPort(node.Id, nic), "dpdkvhostuserclient", VmPaths.VhostSocket(stateDir, node.Name, nic));

        public override VmNetdev QemuNetdev(NodeSpec node, int nic, string stateDir) => new VmNetdev.VhostUserServer(VmPaths.VhostSocket(stateDir, node.Name, nic));
    }

    /// <summary>VM v: a tap QEMU opens, itself the lan port.</summary>
    private sealed class Tap : NicBinding
    {
        public override NicKind Kind => NicKind.Tap;

        public override PortSpec LanPort(NodeSpec node, int nic, string stateDir) => new(OsNames.VmTap(node.Id, nic));

        public override VmNetdev QemuNetdev(NodeSpec node, int nic, string stateDir) => new VmNetdev.Tap(OsNames.VmTap(node.Id, nic));
    }

    /// <summary>
    /// s on either node: the relay's tap is the lan port; on a VM QEMU connects to the relay's vhost-user
    /// socket, in a container the relay puts a tap of its own into the namespace (no veth).
    /// </summary>
    private sealed class Spyable : NicBinding
    {
        public override NicKind Kind => NicKind.Spyable;

        public override PortSpec LanPort(NodeSpec node, int nic, string stateDir) => new(OsNames.SpyPort(node.Id, nic));

        public override VmNetdev QemuNetdev(NodeSpec node, int nic, string stateDir) => new VmNetdev.VhostUserClient(VmPaths.SpyNodeSocket(stateDir, node.Name, nic));
    }
}
