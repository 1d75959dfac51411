using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Coordinator;

/// <summary>The tunnels each lan segment must have: one to every other live segment of its lan, with the lan's VXLAN id.</summary>
public static class Tunnels
{
    /// <summary>
    /// The tunnel message for each live segment (of <paramref name="onlyHost"/>, or of every host), and the
    /// host that gets it. Sent whole each time, so a segment converges whatever was lost or restarted.
    /// </summary>
    public static IEnumerable<(string Host, LanTunnel Tunnel)> For(Registry registry, IReadOnlyCollection<string> live, IReadOnlyDictionary<string, string> liveTunnelAddresses, string? onlyHost = null) =>
        from lan in registry.Lans.Values
        from host in lan.Hosts
        where (onlyHost is null || host == onlyHost) && live.Contains(host)
        select (host, new LanTunnel(lan.Name, lan.Vni, [.. registry.Peers(lan.Name, host, liveTunnelAddresses)]));
}
