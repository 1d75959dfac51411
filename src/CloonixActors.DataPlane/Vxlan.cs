using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CloonixActors.DataPlane;

/// <summary>
/// One lan segment's VXLAN device: its id (VNI), where its tunnels start, its inner MTU and the
/// addresses of the other segments (head-end replication: every flooded frame goes to each of them).
/// </summary>
public sealed record VxlanSpec(string Device, int Vni, int Port, string Local, int Mtu, IReadOnlyCollection<string> Peers);

/// <summary>VXLAN devices of lan segments; the seam that actor tests replace.</summary>
public interface ITunnelPlane
{
    /// <summary>
    /// Makes the device match the spec (created, or re-created when its id, port or address differ) and
    /// its flood list hold exactly the peers. True when the device was (re)created: its OVS port must be bounced.
    /// </summary>
    Task<bool> EnsureAsync(VxlanSpec spec);

    Task DeleteAsync(string device);

    /// <summary>The project's VXLAN devices in the switch namespace.</summary>
    Task<IReadOnlyList<string>> ListAsync();
}

/// <summary>
/// <see cref="ITunnelPlane"/> with iproute2. A device is created in the namespace cloonixd runs in (the
/// host's, where the underlay address is), which keeps its UDP socket, then moved into the switch
/// namespace where it becomes a port of the lan's bridge. It dies with either namespace. The all-zero fdb
/// entries list the peers (head-end replication of broadcast and unknown frames); learning stays on, so a
/// unicast reply goes straight to the tunnel end that sent the request, which also lets a plain Linux VXLAN
/// device that lists the hosts join the lan. Entries learned from a peer that goes are removed with it.
/// </summary>
public sealed class LinuxVxlan(string switchNamespace) : ITunnelPlane
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private const string Flood = "00:00:00:00:00:00";

    public async Task<bool> EnsureAsync(VxlanSpec spec)
    {
        Check(spec);
        var created = false;
        var current = await ProcessRunner.RunAsync("ip", ["-n", switchNamespace, "-d", "-o", "link", "show", "dev", spec.Device], Timeout).ConfigureAwait(false);
        if (!current.Ok || !Matches(current.Stdout, spec))
        {
            if (current.Ok)
            {
                await ProcessRunner.RunCheckedAsync("ip", ["-n", switchNamespace, "link", "del", spec.Device], Timeout).ConfigureAwait(false);
            }

            // A device of the same name left in this namespace by a crash between the two steps below.
            await ProcessRunner.RunAsync("ip", ["link", "del", spec.Device], Timeout).ConfigureAwait(false);
            await ProcessRunner.RunCheckedAsync(
                "ip",
                ["link", "add", spec.Device, "type", "vxlan", "id", Num(spec.Vni), "dstport", Num(spec.Port), "local", spec.Local],
                Timeout).ConfigureAwait(false);
            var moved = await ProcessRunner.RunAsync("ip", ["link", "set", spec.Device, "netns", switchNamespace], Timeout).ConfigureAwait(false);
            if (!moved.Ok)
            {
                await ProcessRunner.RunAsync("ip", ["link", "del", spec.Device], Timeout).ConfigureAwait(false);
                throw new DataPlaneException($"ip link set {spec.Device} netns {switchNamespace}: {moved.FirstErrorLine}");
            }

            created = true;
        }

        await ProcessRunner.RunCheckedAsync("ip", ["-n", switchNamespace, "link", "set", spec.Device, "mtu", Num(spec.Mtu), "up"], Timeout).ConfigureAwait(false);
        var fdb = await ProcessRunner.RunCheckedAsync("bridge", ["-n", switchNamespace, "fdb", "show", "dev", spec.Device], Timeout).ConfigureAwait(false);
        var have = FloodPeers(fdb);
        foreach (var peer in spec.Peers.Where(p => !have.Contains(p)))
        {
            await ProcessRunner.RunCheckedAsync("bridge", ["-n", switchNamespace, "fdb", "append", Flood, "dev", spec.Device, "dst", peer], Timeout).ConfigureAwait(false);
        }

        var gone = have.Where(p => !spec.Peers.Contains(p)).ToHashSet(StringComparer.Ordinal);
        foreach (var (mac, peer) in Entries(fdb).Where(e => gone.Contains(e.Peer)))
        {
            await ProcessRunner.RunAsync("bridge", ["-n", switchNamespace, "fdb", "del", mac, "dev", spec.Device, "dst", peer], Timeout).ConfigureAwait(false);
        }

        return created;
    }

    public async Task DeleteAsync(string device)
    {
        CheckDevice(device);
        var r = await ProcessRunner.RunAsync("ip", ["-n", switchNamespace, "link", "del", device], Timeout).ConfigureAwait(false);
        if (!r.Ok && !r.Stderr.Contains("Cannot find device", StringComparison.Ordinal) && !r.Stderr.Contains("No such file", StringComparison.Ordinal))
        {
            throw new DataPlaneException($"ip link del {device}: {r.FirstErrorLine}");
        }
    }

    public async Task<IReadOnlyList<string>> ListAsync()
    {
        var r = await ProcessRunner.RunAsync("ip", ["-n", switchNamespace, "-o", "link", "show", "type", "vxlan"], Timeout).ConfigureAwait(false);
        if (!r.Ok)
        {
            return [];
        }

        return
        [
            .. r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(':', 3))
                .Where(p => p.Length == 3)
                .Select(p => p[1].Trim().Split('@')[0])
                .Where(n => n.StartsWith(Domain.OsNames.Prefix, StringComparison.Ordinal)),
        ];
    }

    /// <summary>The peers of the all-zero (flood) entries in `bridge fdb show dev X` output.</summary>
    public static HashSet<string> FloodPeers(string fdbShow) =>
        Entries(fdbShow).Where(e => e.Mac == Flood).Select(e => e.Peer).ToHashSet(StringComparer.Ordinal);

    /// <summary>(MAC, tunnel end) of every entry with a destination in `bridge fdb show dev X` output.</summary>
    public static IEnumerable<(string Mac, string Peer)> Entries(string fdbShow)
    {
        foreach (var line in fdbShow.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var dst = Array.IndexOf(words, "dst");
            if (words.Length > 0 && dst > 0 && dst + 1 < words.Length && IPAddress.TryParse(words[dst + 1], out _) && words[0].Length == 17)
            {
                yield return (words[0], words[dst + 1]);
            }
        }
    }

    /// <summary>Whether `ip -d -o link show` output describes a VXLAN device with the spec's id, port and address.</summary>
    public static bool Matches(string linkShow, VxlanSpec spec)
    {
        var words = linkShow.Replace('\\', ' ').Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        string? After(string key)
        {
            var i = Array.IndexOf(words, key);
            return i >= 0 && i + 1 < words.Length ? words[i + 1] : null;
        }

        var vxlan = Array.IndexOf(words, "vxlan");
        return vxlan >= 0
            && After("id") == Num(spec.Vni)
            && After("dstport") == Num(spec.Port)
            && After("local") == spec.Local;
    }

    private static void Check(VxlanSpec spec)
    {
        CheckDevice(spec.Device);
        if (spec.Vni is < 1 or > (1 << 24) - 1 || spec.Port is < 1 or > 65535 || spec.Mtu is < 576 or > 65535)
        {
            throw new DataPlaneException($"vxlan {spec.Device}: id {spec.Vni}, port {spec.Port} or mtu {spec.Mtu} out of range");
        }

        foreach (var address in spec.Peers.Append(spec.Local))
        {
            if (!IPAddress.TryParse(address, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork || ip.ToString() != address)
            {
                throw new DataPlaneException($"vxlan {spec.Device}: '{address}' is not an IPv4 address");
            }
        }
    }

    private static void CheckDevice(string device)
    {
        if (!Domain.Names.IsValid(device) || !device.StartsWith(Domain.OsNames.Prefix, StringComparison.Ordinal))
        {
            throw new DataPlaneException($"'{device}' is not a project device name");
        }
    }

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);
}
