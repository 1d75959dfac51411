using System.Globalization;
using System.Net;

namespace CloonixActors.DataPlane;

/// <summary>The network that carries the tunnels between hosts.</summary>
public static class Underlay
{
    /// <summary>IPv4 (20) + UDP (8) + VXLAN (8) + the inner Ethernet header (14).</summary>
    public const int VxlanOverhead = 50;

    /// <summary>
    /// The MTU of the interface holding <paramref name="address"/> in this network namespace; null when no
    /// interface holds it. Asked of the kernel through iproute2 (netlink), since /sys may show another
    /// namespace's interfaces.
    /// </summary>
    public static async Task<int?> MtuOfAsync(string address)
    {
        if (!IPAddress.TryParse(address, out var ip) || ip.ToString() != address)
        {
            return null;
        }

        var timeout = TimeSpan.FromSeconds(10);
        var addrs = await ProcessRunner.RunAsync("ip", ["-o", "-4", "addr", "show"], timeout).ConfigureAwait(false);
        // "2: eth0    inet 198.18.100.1/24 brd ... scope global eth0\       valid_lft forever ..."
        var device = addrs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(w => w.Length > 3 && w[2] == "inet" && w[3].Split('/')[0] == address)
            .Select(w => w[1])
            .FirstOrDefault();
        if (device is null)
        {
            return null;
        }

        var link = await ProcessRunner.RunAsync("ip", ["-o", "link", "show", "dev", device.Split('@')[0]], timeout).ConfigureAwait(false);
        var words = link.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var mtu = Array.IndexOf(words, "mtu");
        return mtu >= 0 && mtu + 1 < words.Length && int.TryParse(words[mtu + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}
