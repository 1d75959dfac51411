namespace CloonixActors.DataPlane;

/// <summary>One container nic: the veth end on the host (a lan bridge port) and its peer inside the namespace.</summary>
public sealed record VethPair(string HostIf, string GuestIf);

/// <summary>Network namespaces and veth pairs of containers; the seam that actor tests replace.</summary>
public interface IContainerPlane
{
    /// <summary>Creates what is missing of the namespace and its nics; adopts what already matches.</summary>
    Task EnsureContainerAsync(string ns, IReadOnlyList<VethPair> nics);

    /// <summary>Kills every process in the namespace, deletes it and any veth end left on the host.</summary>
    Task DeleteContainerAsync(string ns, IReadOnlyList<string> hostIfs);

    Task<ProcessResult> ExecAsync(string ns, IReadOnlyList<string> argv, TimeSpan timeout);

    IReadOnlyList<string> ListNamespaces(string prefix);

    IReadOnlyList<string> ListHostLinks(string prefix);

    bool LinkExists(string hostIf);

    Task DeleteLinkAsync(string hostIf);
}

/// <summary><see cref="IContainerPlane"/> with iproute2 and ethtool, each started with an argument list.</summary>
public sealed class LinuxNamespaces : IContainerPlane
{
    private const string NetnsDir = "/run/netns";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Task<string> Ip(params string[] args) => ProcessRunner.RunCheckedAsync("ip", args, Timeout);

    public async Task EnsureContainerAsync(string ns, IReadOnlyList<VethPair> nics)
    {
        if (!File.Exists(Path.Combine(NetnsDir, ns)))
        {
            await Ip("netns", "add", ns).ConfigureAwait(false);
        }

        var inside = await LinksInside(ns).ConfigureAwait(false);
        var hostSide = new List<string>();
        var nsSide = new List<string>();
        var tx = new List<string>();
        if (!inside.Contains("lo:up"))
        {
            nsSide.Add("link set lo up");
        }

        foreach (var nic in nics)
        {
            var hostExists = LinkExists(nic.HostIf);
            if (hostExists && inside.Contains(nic.GuestIf))
            {
                continue;
            }

            if (hostExists)
            {
                // A half pair (its peer gone with an old namespace) is not adoptable: start over.
                hostSide.Add($"link del {nic.HostIf}");
            }

            hostSide.Add($"link add {nic.HostIf} type veth peer name {nic.GuestIf} netns {ns}");
            hostSide.Add($"link set {nic.HostIf} up");
            nsSide.Add($"link set {nic.GuestIf} up");
            tx.Add(nic.GuestIf);
        }

        if (hostSide.Count > 0)
        {
            await IpBatch([], hostSide).ConfigureAwait(false);
        }

        if (nsSide.Count > 0)
        {
            await IpBatch(["-n", ns], nsSide).ConfigureAwait(false);
        }

        // The userspace datapath forwards frames as they are and never completes a partial checksum, so
        // TCP from the container would arrive broken: the container must checksum in software.
        foreach (var guestIf in tx)
        {
            await ProcessRunner.RunCheckedAsync("ip", ["netns", "exec", ns, "ethtool", "-K", guestIf, "tx", "off"], Timeout).ConfigureAwait(false);
        }
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

            await Ip("netns", "del", ns).ConfigureAwait(false);
        }

        foreach (var hostIf in hostIfs.Where(LinkExists))
        {
            await DeleteLinkAsync(hostIf).ConfigureAwait(false);
        }
    }

    public Task<ProcessResult> ExecAsync(string ns, IReadOnlyList<string> argv, TimeSpan timeout) =>
        ProcessRunner.RunAsync("ip", new[] { "netns", "exec", ns }.Concat(argv), timeout);

    public IReadOnlyList<string> ListNamespaces(string prefix) =>
        Directory.Exists(NetnsDir)
            ? [.. Directory.EnumerateFiles(NetnsDir).Select(Path.GetFileName).OfType<string>().Where(n => n.StartsWith(prefix, StringComparison.Ordinal))]
            : [];

    public IReadOnlyList<string> ListHostLinks(string prefix) =>
        [.. Directory.EnumerateFileSystemEntries("/sys/class/net").Select(Path.GetFileName).OfType<string>().Where(n => n.StartsWith(prefix, StringComparison.Ordinal))];

    public bool LinkExists(string hostIf) => Directory.Exists(Path.Combine("/sys/class/net", hostIf));

    public async Task DeleteLinkAsync(string hostIf)
    {
        var result = await ProcessRunner.RunAsync("ip", ["link", "del", hostIf], Timeout).ConfigureAwait(false);
        if (!result.Ok && LinkExists(hostIf))
        {
            throw new DataPlaneException($"ip link del {hostIf}: {result.FirstErrorLine}");
        }
    }

    /// <summary>Names of links inside a namespace, plus "name:up" for those administratively up.</summary>
    private static async Task<HashSet<string>> LinksInside(string ns)
    {
        var output = await Ip("-n", ns, "-o", "link", "show").ConfigureAwait(false);
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
            if (parts[2].Contains(",UP", StringComparison.Ordinal) || parts[2].Contains("<UP", StringComparison.Ordinal))
            {
                names.Add(name + ":up");
            }
        }

        return names;
    }

    /// <summary>
    /// One `ip -batch -` process for many commands: a container with many nics costs one spawn, not dozens.
    /// Safe because every name in these lines passed <c>Names</c> validation or was built by <c>OsNames</c>.
    /// </summary>
    private static async Task IpBatch(IReadOnlyList<string> options, IReadOnlyList<string> lines)
    {
        var result = await ProcessRunner.RunAsync("ip", [.. options, "-batch", "-"], Timeout, stdin: string.Join('\n', lines) + "\n").ConfigureAwait(false);
        if (!result.Ok)
        {
            throw new DataPlaneException($"ip: {result.FirstErrorLine}");
        }
    }
}
