using Akka.Actor;
using Akka.Configuration;
using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.Relay.Engine;
using CloonixActors.Relay.Tap;
using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Host;

/// <summary>
/// The daemon's data plane: this host's private OVS (with OVS-DPDK where it can run), network namespaces,
/// QEMU guests, the s nics' relays and the VXLAN tunnels. The composed-host spec gives fakes in its place.
/// </summary>
public static class LinuxHostPlane
{
    /// <summary>Probes the host (datapath, acceleration, vhost-net, the underlay's MTU) once, as the host agent starts.</summary>
    public static HostPlane Create(Config config, CloonixHostOptions options)
    {
        var tunnel = TunnelSettingsFrom(config, options);
        var paths = new OvsPaths(options.StateDir, options.HostName);
        var datapath = OvsVsctl.DetectDatapath();
        var accel = Acceleration.Probe();
        return new HostPlane(
            new OvsVsctl(paths, datapath),
            new LinuxNamespaces(paths.SwitchNamespace, tunnel.Enabled ? tunnel.InnerMtu : null),
            OvsActorProps(paths, datapath, config.GetString("cloonix.dpdk", "auto")),
            datapath,
            new LinuxVmPlane(options.StateDir, paths.SwitchNamespace, accel),
            new VmEnvironment(options.StateDir, config.GetString("cloonix.images-dir", "/var/lib/cloonix/images"), File.Exists("/dev/vhost-net")) { HostName = options.HostName, Relays = SpyRelays(paths.SwitchNamespace, tunnel.Enabled ? tunnel.InnerMtu : 0, config.GetInt("cloonix.relay.max-spins", 20)) },
            HostFactsReader.Read(),
            new LinuxVxlan(paths.SwitchNamespace),
            tunnel);
    }

    /// <summary>
    /// Where this host's tunnels start: cloonix.vxlan.local-address, else the remoting address unless it
    /// is a loopback one (a host on its own, no tunnels). The inner MTU is the underlay's minus VXLAN's 50 bytes.
    /// </summary>
    public static TunnelSettings TunnelSettingsFrom(Config config, CloonixHostOptions options)
    {
        var port = config.GetInt("cloonix.vxlan.port", 4789);
        var local = config.GetString("cloonix.vxlan.local-address", string.Empty);
        if (string.IsNullOrEmpty(local))
        {
            local = System.Net.IPAddress.TryParse(options.BindHost, out var ip) && !System.Net.IPAddress.IsLoopback(ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
                ? options.BindHost
                : string.Empty;
        }

        if (string.IsNullOrEmpty(local))
        {
            return TunnelSettings.None with { Port = port };
        }

        var underlay = Underlay.MtuOfAsync(local).GetAwaiter().GetResult() ?? 1500; // once, at start-up, before any actor runs
        return new TunnelSettings(local, port, config.GetInt("cloonix.vxlan.mtu", underlay - Underlay.VxlanOverhead));
    }

    /// <summary>
    /// An s nic's relay: QEMU connects to the node-side vhost-user socket, the lan side is a tap the relay
    /// makes in the switch namespace (OVS 3.1 gives a net_virtio_user port no checksum or TSO offload and
    /// drops what needs them; a tap keeps both).
    /// </summary>
    /// <param name="mtu">The lans' MTU on a host with tunnels (the VXLAN inner MTU), else 0: the kernel's.</param>
    /// <param name="maxSpins">How long an idle relay thread may spin before it sleeps (RelayEngine.MaxSpins).</param>
    private static RelayFactory SpyRelays(string switchNamespace, int mtu, int maxSpins) => (name, node, lanTap) =>
    {
        var tap = TapDevice.Create(lanTap, NetnsPath(switchNamespace), mtu);
        TapDevice? nodeTap = null;
        try
        {
            if (node.VhostSocket is { } socket)
            {
                return new RelayEngine(new VhostUserBackendOptions { SocketPath = socket, Name = $"{name} node", OfferEventIdx = true, OfferIndirectDescriptors = true }, tap) { MaxSpins = maxSpins };
            }

            // A container's s nic: the tap inside survives the relay (persistent), keeping its addresses.
            nodeTap = TapDevice.Create(node.Interface!, NetnsPath(node.Netns!), mtu, persistent: true);
            return new RelayEngine(nodeTap, tap) { MaxSpins = maxSpins };
        }
        catch
        {
            nodeTap?.Dispose();
            tap.Dispose();
            throw;
        }
    };

    private static string NetnsPath(string ns) => Path.Combine("/var/run/netns", ns);

    /// <summary>The DPDK build of the switch where the host can run it (d nics), with the plain build as fallback.</summary>
    private static Props OvsActorProps(OvsPaths paths, string datapath, string dpdkMode)
    {
        var plain = new OvsDaemons(paths);
        var why = dpdkMode == "off" ? "OVS-DPDK is switched off (cloonix.dpdk = off)" : DpdkSettings.Unavailable();
        return why is null
            ? OvsActor.Props(new OvsDaemons(paths, dpdk: DpdkSettings.Default()), datapath, plain)
            : OvsActor.Props(plain, datapath, null, why);
    }
}
