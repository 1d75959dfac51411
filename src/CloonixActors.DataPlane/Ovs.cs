namespace CloonixActors.DataPlane;

/// <summary>
/// One port of a lan bridge. A plain port (a veth end, a tap) has no type; a d nic's port is
/// "dpdkvhostuserclient", connecting to the vhost-user socket QEMU serves at <paramref name="VhostServerPath"/>.
/// </summary>
/// <remarks>A <paramref name="Tag"/> makes the port an access port of that VLAN, isolating it from the bridge's other ports.</remarks>
public sealed record PortSpec(string Name, string? Type = null, string? VhostServerPath = null, int? Tag = null);

/// <summary>Bridge and port operations on one Open vSwitch instance; the seam that actor tests replace.</summary>
public interface IOvsSwitch
{
    Task DeleteBridgeAsync(string bridge);

    Task<IReadOnlyList<string>> ListBridgesAsync();

    Task<IReadOnlyList<string>> ListPortsAsync(string bridge);

    /// <summary>Creates the bridge if needed, and adds and removes its ports, in a single OVSDB transaction.</summary>
    Task ApplyPortsAsync(string bridge, IReadOnlyCollection<PortSpec> add, IReadOnlyCollection<string> remove);
}

/// <summary>
/// <see cref="IOvsSwitch"/> through ovs-vsctl against the daemon's private OVSDB socket. Every call waits
/// until ovs-vswitchd has applied the change, so a reply to the client means the port is really there.
/// </summary>
public sealed class OvsVsctl(OvsPaths paths, string datapathType) : IOvsSwitch
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public string DatapathType { get; } = datapathType;

    private Task<string> Vsctl(IEnumerable<string> args) =>
        ProcessRunner.RunCheckedAsync(
            "ovs-vsctl",
            new[] { $"--db=unix:{paths.DbSocket}", "--timeout=15" }.Concat(args),
            Timeout,
            paths.Environment);

    public Task DeleteBridgeAsync(string bridge) => Vsctl(["--if-exists", "del-br", bridge]);

    public async Task<IReadOnlyList<string>> ListBridgesAsync() => Lines(await Vsctl(["list-br"]).ConfigureAwait(false));

    /// <summary>The bridge's ports; empty when the bridge does not exist (yet).</summary>
    public async Task<IReadOnlyList<string>> ListPortsAsync(string bridge)
    {
        var result = await ProcessRunner.RunAsync(
            "ovs-vsctl",
            [$"--db=unix:{paths.DbSocket}", "--timeout=15", "list-ports", bridge],
            Timeout,
            paths.Environment).ConfigureAwait(false);
        if (result.Ok)
        {
            return Lines(result.Stdout);
        }

        return result.Stderr.Contains("no bridge named", StringComparison.Ordinal)
            ? []
            : throw new DataPlaneException($"ovs-vsctl list-ports {bridge}: {result.FirstErrorLine}");
    }

    public async Task ApplyPortsAsync(string bridge, IReadOnlyCollection<PortSpec> add, IReadOnlyCollection<string> remove)
    {
        var result = await ProcessRunner.RunAsync("ovs-vsctl", VsctlArgs(ApplyArgs(bridge, add, remove)), Timeout, paths.Environment).ConfigureAwait(false);
        if (!result.Ok && result.Stderr.Contains("does not have a port", StringComparison.Ordinal))
        {
            // A d nic's port moved to its lan's bridge between our listing and this transaction:
            // it is no longer ours to remove. Drop the removals that went stale and apply the rest.
            var now = (await ListPortsAsync(bridge).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            result = await ProcessRunner.RunAsync("ovs-vsctl", VsctlArgs(ApplyArgs(bridge, add, [.. remove.Where(now.Contains)])), Timeout, paths.Environment).ConfigureAwait(false);
        }

        if (!result.Ok)
        {
            throw new DataPlaneException($"ovs-vsctl on {bridge}: {result.FirstErrorLine}");
        }
    }

    private IEnumerable<string> VsctlArgs(IEnumerable<string> args) => new[] { $"--db=unix:{paths.DbSocket}", "--timeout=15" }.Concat(args);

    private List<string> ApplyArgs(string bridge, IReadOnlyCollection<PortSpec> add, IReadOnlyCollection<string> remove)
    {
        var args = new List<string>
        {
            "--may-exist", "add-br", bridge, "--", "set", "bridge", bridge, $"datapath_type={DatapathType}", "fail_mode=standalone",
        };
        foreach (var port in remove)
        {
            args.AddRange(["--", "--if-exists", "del-port", bridge, port]);
        }

        foreach (var port in add)
        {
            if (port.Type is not null)
            {
                // A d nic's port moves between its lan's bridge and the parking bridge: take it from wherever it is.
                args.AddRange(["--", "--if-exists", "del-port", port.Name]);
            }

            args.AddRange(["--", "--may-exist", "add-port", bridge, port.Name]);
            if (port.Tag is { } tag)
            {
                args.AddRange(["--", "set", "Port", port.Name, $"tag={tag}"]);
            }

            if (port.Type is { } type)
            {
                args.AddRange(["--", "set", "Interface", port.Name, $"type={type}"]);
            }

            if (port.VhostServerPath is { } path)
            {
                args.AddRange(["--", "set", "Interface", port.Name, $"options:vhost-server-path={path}"]);
            }
        }

        return args;
    }

    private static List<string> Lines(string output) =>
        [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>"system" where the openvswitch kernel module is loaded, else the userspace "netdev" datapath.</summary>
    public static string DetectDatapath() => Directory.Exists("/sys/module/openvswitch") ? "system" : "netdev";
}
