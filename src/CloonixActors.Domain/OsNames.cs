namespace CloonixActors.Domain;

/// <summary>
/// How desired objects are named in the OS. Everything carries the "cxa" prefix so that a purge finds it
/// all; interface names are built from small numeric ids so they stay within 15 characters whatever the
/// user's names are.
/// </summary>
public static class OsNames
{
    public const string Prefix = "cxa";

    /// <summary>
    /// The network namespace of a container on a given host (namespace names are machine-wide). The '.'
    /// cannot occur in a host or node name, so no two (host, node) pairs share a namespace and one
    /// host's prefix never matches another host's namespaces.
    /// </summary>
    public static string Namespace(string host, string node) => $"{Prefix}-{host}.{node}";

    public static string NamespacePrefix(string host) => $"{Prefix}-{host}.";

    /// <summary>The namespace a host's ovs-vswitchd runs in; never matches <see cref="NamespacePrefix"/>.</summary>
    public static string SwitchNamespace(string host) => $"{Prefix}.ovs.{host}";

    /// <summary>The switch-namespace end of a container nic's veth pair, the port on the lan bridge.</summary>
    public static string ContainerHostIf(int nodeId, int nic) => $"{Prefix}{nodeId}n{nic}";

    /// <summary>The tap of a VM's v nic, created by QEMU in the switch namespace and attached to the lan bridge.</summary>
    public static string VmTap(int nodeId, int nic) => $"{Prefix}{nodeId}t{nic}";

    /// <summary>The OVS port (dpdkvhostuserclient) of a VM's d nic.</summary>
    public static string VmVhostPort(int nodeId, int nic) => $"{Prefix}{nodeId}d{nic}";

    /// <summary>
    /// The tap on the lan bridge that an s nic's relay reads and writes (made by the relay inside the switch
    /// namespace; it lives as long as the relay).
    /// </summary>
    public static string SpyPort(int nodeId, int nic) => $"{Prefix}{nodeId}s{nic}";

    /// <summary>The nic as the container sees it.</summary>
    public static string GuestIf(int nic) => $"eth{nic}";

    /// <summary>The OVS bridge of a lan on this host.</summary>
    public static string Bridge(int lanId) => $"{Prefix}b{lanId}";

    /// <summary>The VXLAN device that joins this host's segment of a lan to the other hosts' segments.</summary>
    public static string Vxlan(int lanId) => $"{Prefix}v{lanId}";

    public static bool IsProjectBridge(string name) => name.StartsWith(Prefix + "b", StringComparison.Ordinal);

    public static bool IsProjectInterface(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);
}
