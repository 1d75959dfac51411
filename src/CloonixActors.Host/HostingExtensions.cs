using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Tools.Client;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using Akka.Pattern;
using Akka.Persistence.Sql;
using Akka.Remote.Hosting;
using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.Relay.Engine;
using CloonixActors.Relay.Tap;
using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Host;

/// <summary>Registry key for the host agent's supervisor.</summary>
public sealed class HostAgentKey;

/// <summary>Registry key for the lan-coordinator's singleton proxy.</summary>
public sealed class LanCoordinatorKey;

public static class HostingExtensions
{
    /// <summary>
    /// Everything a cloonixd host runs: HOCON from hocon/, remoting, cluster membership (role "host"),
    /// the receptionist the console client talks to, persistence on a SQLite file, the host agent and
    /// its data plane, and the shutdown task that removes the data plane on a clean stop.
    /// </summary>
    /// <param name="onDowned">Called when the cluster downed this host (the daemon then starts a new ActorSystem that rejoins).</param>
    public static AkkaConfigurationBuilder AddCloonixHost(this AkkaConfigurationBuilder builder, CloonixHostOptions options, Action? onDowned = null)
    {
        Directory.CreateDirectory(options.StateDir);
        var secret = SecretFile.LoadOrCreate(options.StateDir);
        var config = LoadConfig(options);
        var hostSettings = new HostSettings(
            options.HostName,
            options.StateDir,
            options.PersistenceDescription,
            config.GetInt("cloonix.snapshot-every", 100),
            config.GetTimeSpan("cloonix.command-timeout", TimeSpan.FromSeconds(60)),
            config.GetString("cloonix.fault-injection", "off") == "on");
        var tls = TlsEnabled(config);
        var scheme = tls ? "akka.ssl.tcp" : "akka.tcp";
        var selfAddress = $"{scheme}://{CloonixHostOptions.SystemName}@{options.BindHost}:{options.BindPort}";
        var seeds = options.Seeds.Count == 0
            ? [selfAddress]
            : options.Seeds.Select(s => $"{scheme}://{CloonixHostOptions.SystemName}@{s}").ToArray();
        if (options.Rejoin && seeds.Length > 1)
        {
            // Back after being downed: join the others, never form a cluster of one as a first seed would.
            seeds = [.. seeds.Where(s => s != selfAddress)];
        }

        return builder
            .AddHocon(config, HoconAddMode.Prepend)
            .AddHocon(SqlPersistence.DefaultConfiguration, HoconAddMode.Append)
            .ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLogger<FileAndStderrLogger>();
            })
            .WithRemoting(options.BindHost, options.BindPort)
            .WithClusterTls(tls, options)
            .WithClustering(new ClusterOptions { Roles = ["host"], SeedNodes = seeds })
            .WithClusterClientReceptionist("receptionist", "host")
            .WithActors((system, registry) =>
            {
                // The lan-coordinator: a singleton on the oldest host, under back-off (a failed recovery or a crash stops it;
                // failed writes are rejections it survives, decision 0011).
                system.ActorOf(
                    ClusterSingletonManager.Props(
                        BackoffSupervisor.Props(Backoff.OnStop(
                            LanCoordinator.Props(new CoordinatorSettings(options.HostName, hostSettings.Timeout, hostSettings.SnapshotEvery, ClusterId(config, options))),
                            "coordinator",
                            TimeSpan.FromMilliseconds(500),
                            TimeSpan.FromSeconds(10),
                            0.2,
                            -1)),
                        PoisonPill.Instance,
                        ClusterSingletonManagerSettings.Create(system).WithRole("host").WithSingletonName("singleton")),
                    LanCoordinator.Id);
                var coordinator = system.ActorOf(
                    ClusterSingletonProxy.Props($"/user/{LanCoordinator.Id}", ClusterSingletonProxySettings.Create(system).WithRole("host").WithSingletonName("singleton")),
                    $"{LanCoordinator.Id}-proxy");
                registry.Register<LanCoordinatorKey>(coordinator);

                var tunnel = TunnelSettingsFrom(config, options);
                var paths = new OvsPaths(options.StateDir, options.HostName);
                var datapath = OvsVsctl.DetectDatapath();
                var accel = Acceleration.Probe();
                var plane = new HostPlane(
                    new OvsVsctl(paths, datapath),
                    new LinuxNamespaces(paths.SwitchNamespace, tunnel.Enabled ? tunnel.InnerMtu : null),
                    OvsActorProps(paths, datapath, config.GetString("cloonix.dpdk", "auto")),
                    datapath,
                    new LinuxVmPlane(options.StateDir, paths.SwitchNamespace, accel),
                    new VmEnvironment(options.StateDir, config.GetString("cloonix.images-dir", "/var/lib/cloonix/images"), File.Exists("/dev/vhost-net")) { HostName = options.HostName, Relays = SpyRelays(paths.SwitchNamespace, tunnel.Enabled ? tunnel.InnerMtu : 0, config.GetInt("cloonix.relay.max-spins", 20)) },
                    HostFactsReader.Read(),
                    new LinuxVxlan(paths.SwitchNamespace),
                    tunnel);
                // A failed recovery or a crash stops the agent: restart it with back-off; it recovers from the journal.
                // Failed writes are rejections it survives with its children, the data plane (decision 0011).
                var supervisor = system.ActorOf(
                    BackoffSupervisor.Props(Backoff.OnStop(
                        HostAgent.Props(hostSettings, plane, coordinator),
                        "agent",
                        TimeSpan.FromMilliseconds(500),
                        TimeSpan.FromSeconds(10),
                        0.2,
                        -1)),
                    "host");
                registry.Register<HostAgentKey>(supervisor);
                var api = system.ActorOf(ApiActor.Props(secret, supervisor, coordinator, options.HostName), "api");
                ClusterClientReceptionist.Get(system).RegisterService(api);

                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceStop, "remove-data-plane", async () =>
                {
                    if (CoordinatedShutdown.Get(system).ShutdownReason is CoordinatedShutdown.ClusterDowningReason)
                    {
                        // Downed (cut off from the majority): not a stop. The data plane stays, as after
                        // kill -9, and the next ActorSystem adopts it when it rejoins.
                        system.Log.Warning("this host was downed by the cluster: keeping the data plane, rejoining");
                        onDowned?.Invoke();
                        return Akka.Done.Instance;
                    }

                    try
                    {
                        await supervisor.Ask<object>(TeardownDataPlane.Instance, hostSettings.Timeout).ConfigureAwait(false);
                    }
                    catch (AskTimeoutException)
                    {
                        system.Log.Warning("data plane not fully removed before shutdown");
                    }

                    return Akka.Done.Instance;
                });
            });
    }

    /// <summary>
    /// akka.remote.dot-netty.tcp.enable-ssl (on in hocon/base.conf). Off only to measure what TLS costs
    /// (bench/tls.py): then anyone who reaches the port is trusted like a member.
    /// </summary>
    public static bool TlsEnabled(Config config) => config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl", false);

    /// <summary>
    /// Mutual TLS on remoting with this host's certificate from STATE_DIR/tls (made on a first start), every
    /// peer checked against the cluster's authorities only.
    /// </summary>
    private static AkkaConfigurationBuilder WithClusterTls(this AkkaConfigurationBuilder builder, bool tls, CloonixHostOptions options)
    {
        if (!tls)
        {
            return builder;
        }

        var identity = Security.ClusterCertificates.EnsureForHost(options.StateDir, options.HostName);
        return builder.AddSetup(Security.ClusterCertificates.SslSetup(identity));
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

    /// <summary>
    /// What names this cluster's coordinator journal: cloonix.cluster-id, else the host's name for a host on
    /// its own (no seeds), else "default". Clusters sharing one database need ids of their own.
    /// </summary>
    public static string ClusterId(Config config, CloonixHostOptions options)
    {
        var id = config.GetString("cloonix.cluster-id", string.Empty);
        if (string.IsNullOrEmpty(id))
        {
            return options.Seeds.Count == 0 ? options.HostName : "default";
        }

        return Domain.Names.Problem(id, "cluster id") is { } problem ? throw new InvalidDataException(problem) : id;
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

    /// <summary>Flags over the --config file over hocon/*.conf.</summary>
    public static Config LoadConfig(CloonixHostOptions options)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "hocon");
        var config = ConfigurationFactory.ParseString($$"""
            cloonix.host-name = "{{options.HostName}}"
            cloonix.log-file = "{{options.LogFile}}"
            cloonix.state-dir = "{{options.StateDir}}"
            akka.persistence.journal.sql.connection-string = "{{options.JournalConnectionString}}"
            akka.persistence.snapshot-store.sql.connection-string = "{{options.JournalConnectionString}}"
            """);
        if (options.ConfigFile is { } file)
        {
            config = config.WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(file)));
        }

        foreach (var name in new[] { $"persistence-{options.Persistence}.conf", "cluster.conf", "base.conf" })
        {
            config = config.WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(dir, name))));
        }

        return config;
    }
}
