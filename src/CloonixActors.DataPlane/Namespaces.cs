namespace CloonixActors.DataPlane;

/// <summary>One container nic: the veth end in the switch's namespace (a lan bridge port) and its peer inside the container.</summary>
public sealed record VethPair(string HostIf, string GuestIf);

/// <summary>Network namespaces and veth pairs of containers; the seam that actor tests replace.</summary>
public interface IContainerPlane
{
    /// <summary>
    /// Creates what is missing of the namespace and its nics and adopts what already matches. Returns the
    /// switch-side ends it had to (re)create: an OVS port whose device vanished and came back under the
    /// same name stays dead until it is removed and added again.
    /// </summary>
    Task<IReadOnlyList<string>> EnsureContainerAsync(string ns, IReadOnlyList<VethPair> nics);

    /// <summary>Kills every process in the namespace, deletes it and any veth end left in the switch namespace.</summary>
    Task DeleteContainerAsync(string ns, IReadOnlyList<string> hostIfs);

    Task<ProcessResult> ExecAsync(string ns, IReadOnlyList<string> argv, TimeSpan timeout);

    IReadOnlyList<string> ListNamespaces(string prefix);
}

/// <summary><see cref="IContainerPlane"/> with iproute2, each program started with an argument list.</summary>
/// <param name="mtu">The MTU of new veth pairs; null keeps the kernel's (1500). Hosts with an underlay give the inner MTU of their tunnels.</param>
public sealed class LinuxNamespaces(string switchNamespace, int? mtu = null) : IContainerPlane
{
    private const string NetnsDir = "/run/netns";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public async Task<IReadOnlyList<string>> EnsureContainerAsync(string ns, IReadOnlyList<VethPair> nics)
    {
        HashSet<string> inside, switchSide;
        if (!File.Exists(Path.Combine(NetnsDir, ns)))
        {
            // A new namespace holds nothing, and no veth of it can exist elsewhere (a veth dies with its
            // peer's namespace, and port names come from ids never used twice): no need to look.
            await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", ns], Timeout).ConfigureAwait(false);
            inside = [];
            switchSide = [];
        }
        else
        {
            inside = await LinksIn(ns).ConfigureAwait(false);
            switchSide = await LinksIn(switchNamespace).ConfigureAwait(false);
        }

        var create = new List<string>();
        var configure = new List<string>();
        var created = new List<string>();
        if (!inside.Contains("lo:up"))
        {
            configure.Add("link set lo up");
        }

        foreach (var nic in nics)
        {
            var hostExists = switchSide.Contains(nic.HostIf);
            if (hostExists && inside.Contains(nic.GuestIf))
            {
                if (!inside.Contains(nic.GuestIf + ":up"))
                {
                    configure.Add($"link set {nic.GuestIf} up");
                }

                continue;
            }

            if (hostExists)
            {
                // Half a pair (its peer went with an old namespace) cannot be adopted: start over.
                create.Add($"link del {nic.HostIf}");
            }

            create.Add(mtu is { } m
                ? $"link add {nic.HostIf} mtu {m} up type veth peer name {nic.GuestIf} mtu {m} netns {ns}"
                : $"link add {nic.HostIf} up type veth peer name {nic.GuestIf} netns {ns}");
            configure.Add($"link set {nic.GuestIf} up");
            created.Add(nic.HostIf);
        }

        if (create.Count > 0)
        {
            await IpBatch(switchNamespace, create).ConfigureAwait(false);
        }

        if (configure.Count > 0)
        {
            await IpBatch(ns, configure).ConfigureAwait(false);
        }

        return created;
    }

    public async Task DeleteContainerAsync(string ns, IReadOnlyList<string> hostIfs)
    {
        if (File.Exists(Path.Combine(NetnsDir, ns)))
        {
            // A process left inside would keep the namespace (and its veths) alive after `ip netns del`.
            var pids = await ProcessRunner.RunAsync("ip", ["netns", "pids", ns], Timeout).ConfigureAwait(false);
            foreach (var line in pids.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (int.TryParse(line, out var pid))
                {
                    Processes.Signal(pid, Processes.SigKill);
                }
            }

            await ProcessRunner.RunCheckedAsync("ip", ["netns", "del", ns], Timeout).ConfigureAwait(false);
        }
        else if (hostIfs.Count > 0 && File.Exists(Path.Combine(NetnsDir, switchNamespace)))
        {
            // No namespace, so no peers: remove any switch-side end that outlived them. (When the namespace
            // existed, its veths go with it, asynchronously in the kernel, so they are not touched here.)
            var left = await LinksIn(switchNamespace).ConfigureAwait(false);
            var dels = hostIfs.Where(left.Contains).Select(h => $"link del {h}").ToList();
            if (dels.Count > 0)
            {
                await IpBatch(switchNamespace, dels).ConfigureAwait(false);
            }
        }
    }

    public Task<ProcessResult> ExecAsync(string ns, IReadOnlyList<string> argv, TimeSpan timeout) =>
        ProcessRunner.ExecAsync("ip", new[] { "netns", "exec", ns }.Concat(argv), timeout);

    public IReadOnlyList<string> ListNamespaces(string prefix) =>
        Directory.Exists(NetnsDir)
            ? [.. Directory.EnumerateFiles(NetnsDir).Select(Path.GetFileName).OfType<string>().Where(n => n.StartsWith(prefix, StringComparison.Ordinal))]
            : [];

    /// <summary>Names of links in a namespace, plus "name:up" for those administratively up.</summary>
    private static async Task<HashSet<string>> LinksIn(string ns)
    {
        var output = await ProcessRunner.RunCheckedAsync("ip", ["-n", ns, "-o", "link", "show"], Timeout).ConfigureAwait(false);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ..."
            var parts = line.Split(':', 3);
            if (parts.Length < 3)
            {
                continue;
            }

            var name = parts[1].Trim().Split('@')[0];
            names.Add(name);
            var flags = parts[2];
            var open = flags.IndexOf('<', StringComparison.Ordinal);
            var close = flags.IndexOf('>', StringComparison.Ordinal);
            if (open >= 0 && close > open && flags[(open + 1)..close].Split(',').Contains("UP"))
            {
                names.Add(name + ":up");
            }
        }

        return names;
    }

    /// <summary>
    /// One `ip -n NS -batch -` process for many commands: a container with many nics costs two spawns, not
    /// dozens. Safe because every name in these lines passed <c>Names</c> validation or was built by <c>OsNames</c>.
    /// </summary>
    private static async Task IpBatch(string ns, IReadOnlyList<string> lines)
    {
        var result = await ProcessRunner.RunAsync("ip", ["-n", ns, "-batch", "-"], Timeout, stdin: string.Join('\n', lines) + "\n").ConfigureAwait(false);
        if (!result.Ok)
        {
            throw new DataPlaneException($"ip: {result.FirstErrorLine}");
        }
    }
}
