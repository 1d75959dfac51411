namespace CloonixActors.Domain;

/// <summary>One project object on a host that the desired state does not hold, and so must go.</summary>
public abstract record Leftover(string Name)
{
    /// <summary>A node's network namespace (its veths die with it, so host-side ends need no removal of their own).</summary>
    public sealed record Namespace(string Name) : Leftover(Name);

    /// <summary>A VM's directory under the state dir, and the QEMU that may still run from it.</summary>
    public sealed record Vm(string Name) : Leftover(Name);

    /// <summary>A lan's OVS bridge.</summary>
    public sealed record Bridge(string Name) : Leftover(Name);

    /// <summary>A lan segment's VXLAN device.</summary>
    public sealed record Tunnel(string Name) : Leftover(Name);

    /// <summary>How the removal is named in the log and in a purge's answer.</summary>
    public string Describe() => this is Vm ? $"vm {Name}" : Name;
}

/// <summary>What exists on a host, as far as leftovers go: each list as the data plane reported it.</summary>
public sealed record HostInventory(
    IReadOnlyList<string> Namespaces,
    IReadOnlyList<string> VmDirectories,
    IReadOnlyList<string> Bridges,
    IReadOnlyList<string> TunnelDevices)
{
    public static readonly HostInventory Empty = new([], [], [], []);
}

/// <summary>
/// The reconciliation of leftovers as a pure function: from the desired state and what exists on the host to
/// the objects to remove, in the order they go (namespaces, VMs, bridges, tunnels). Only the project's own
/// objects of this host are ever named: another host's namespaces, a bridge or a device not of the project
/// stay, whatever the inventory holds.
/// </summary>
public static class LeftoverPlan
{
    /// <summary>The bridge of the d nics that are on no lan; id 0 is never given to a user's lan.</summary>
    public static readonly LanSpec ParkingLan = new("park", 0);

    public static IReadOnlyList<Leftover> Of(Topology desired, string host, HostInventory found)
    {
        var prefix = OsNames.NamespacePrefix(host);
        var wantedNamespaces = desired.Nodes.Keys.Select(n => OsNames.Namespace(host, n)).ToHashSet(StringComparer.Ordinal);
        var wantedVms = desired.Nodes.Values.Where(n => n.Kind == NodeKind.Vm).Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        var wantedBridges = desired.Lans.Values.Select(l => l.Bridge).Append(ParkingLan.Bridge).ToHashSet(StringComparer.Ordinal);
        var wantedDevices = desired.Lans.Values.Select(l => OsNames.Vxlan(l.Id)).ToHashSet(StringComparer.Ordinal);
        return
        [
            .. found.Namespaces.Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && !wantedNamespaces.Contains(n)).Distinct().Select(n => new Leftover.Namespace(n)),
            .. found.VmDirectories.Where(v => !wantedVms.Contains(v)).Distinct().Select(v => new Leftover.Vm(v)),
            .. found.Bridges.Where(b => OsNames.IsProjectBridge(b) && !wantedBridges.Contains(b)).Distinct().Select(b => new Leftover.Bridge(b)),
            .. found.TunnelDevices.Where(d => OsNames.IsProjectInterface(d) && !wantedDevices.Contains(d)).Distinct().Select(d => new Leftover.Tunnel(d)),
        ];
    }
}
