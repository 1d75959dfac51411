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

namespace CloonixActors.Host;

/// <summary>Registry key for the host agent's supervisor.</summary>
public sealed class HostAgentKey;

/// <summary>Registry key for the lan-coordinator's singleton proxy.</summary>
public sealed class LanCoordinatorKey;

/// <summary>Registry key for the api, the actor clients reach through the receptionist.</summary>
public sealed class CloonixApiKey;

/// <summary>
/// A cloonixd host as small Akka.Hosting features, composed by <see cref="AddCloonixHost(AkkaConfigurationBuilder, CloonixHostOptions, Action?)"/>.
/// The order of the calls there is the order of the actors' start: each feature finds what it needs from the
/// ones before it in the actor registry.
/// </summary>
public static class HostingExtensions
{
    /// <summary>The cluster role of every cloonixd: the coordinator singleton and the receptionist live on hosts only.</summary>
    private const string HostRole = "host";

    /// <summary>The lan-coordinator's name under its singleton manager on every host.</summary>
    private const string CoordinatorSingletonName = "singleton";

    /// <summary>How the host agent and the lan-coordinator come back after they stop: 0.5 s, doubling to 10 s, for ever.</summary>
    private static readonly (TimeSpan Min, TimeSpan Max, double Jitter) RestartDelays = (TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10), 0.2);

    /// <summary>
    /// Everything a cloonixd host runs: HOCON from hocon/, remoting, cluster membership (role "host"),
    /// the receptionist the console client talks to, persistence (SQLite or PostgreSQL), the lan-coordinator, the host agent and
    /// its data plane, and the shutdown task that removes the data plane on a clean stop.
    /// </summary>
    /// <param name="onDowned">Called when the cluster downed this host (the daemon then starts a new ActorSystem that rejoins).</param>
    public static AkkaConfigurationBuilder AddCloonixHost(this AkkaConfigurationBuilder builder, CloonixHostOptions options, Action? onDowned = null) =>
        builder.AddCloonixHost(options, config => LinuxHostPlane.Create(config, options), onDowned);

    /// <summary>The same host on the data plane <paramref name="dataPlane"/> makes from the loaded configuration (the daemon's: <see cref="LinuxHostPlane"/>).</summary>
    public static AkkaConfigurationBuilder AddCloonixHost(this AkkaConfigurationBuilder builder, CloonixHostOptions options, Func<Config, HostPlane> dataPlane, Action? onDowned = null)
    {
        Directory.CreateDirectory(options.StateDir);
        var secret = SecretFile.LoadOrCreate(options.StateDir);
        var config = LoadConfig(options);
        var hostSettings = HostSettingsFrom(config, options);
        var tls = TlsEnabled(config);
        return builder
            .AddHocon(config, HoconAddMode.Prepend)
            .AddCloonixPersistence()
            .AddCloonixLogging()
            .AddCloonixRemoting(options, tls)
            .AddCloonixCluster(options, tls)
            .AddLanCoordinator(new CoordinatorSettings(options.HostName, hostSettings.Timeout, hostSettings.SnapshotEvery, ClusterId(config, options)))
            .AddHostAgent(hostSettings, () => dataPlane(config))
            .AddCloonixApi(secret, options.HostName)
            .AddDataPlaneTeardown(hostSettings.Timeout, onDowned);
    }

    /// <summary>
    /// The journal and snapshot store on Akka.Persistence.Sql, under the plugin settings of hocon/persistence-*.conf
    /// (which <see cref="LoadConfig"/> layers in): the <see cref="RejectingSqlJournal"/> turns a failed write into a
    /// rejection, so a database outage refuses changes and leaves the data plane up (decision 0011).
    /// </summary>
    /// <remarks>
    /// The journal's start-up check and, on PostgreSQL, the <see cref="HostNameLease"/> are taken by the daemon
    /// before this ActorSystem starts (<see cref="JournalProbe"/>): a refusal there is one line and an exit code.
    /// </remarks>
    public static AkkaConfigurationBuilder AddCloonixPersistence(this AkkaConfigurationBuilder builder) =>
        builder.AddHocon(SqlPersistence.DefaultConfiguration, HoconAddMode.Append);

    /// <summary>Akka's log to STATE_DIR/cloonixd.log and stderr only, leaving stdout to what a program is asked to print.</summary>
    public static AkkaConfigurationBuilder AddCloonixLogging(this AkkaConfigurationBuilder builder) =>
        builder.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLogger<FileAndStderrLogger>();
        });

    /// <summary>
    /// Remoting on --bind, with mutual TLS when <paramref name="tls"/>: this host's certificate from STATE_DIR/tls
    /// (made on a first start), every peer checked against the cluster's authorities only.
    /// </summary>
    public static AkkaConfigurationBuilder AddCloonixRemoting(this AkkaConfigurationBuilder builder, CloonixHostOptions options, bool tls)
    {
        builder.WithRemoting(options.BindHost, options.BindPort);
        if (!tls)
        {
            return builder;
        }

        var identity = ClusterCertificates.EnsureForHost(options.StateDir, options.HostName);
        return builder.AddSetup(ClusterCertificates.SslSetup(identity));
    }

    /// <summary>
    /// Membership as a "host" through the seeds (none: this host alone is its own first seed); a host back after
    /// being downed joins the other seeds only, so it never forms a cluster of one beside the majority.
    /// </summary>
    public static AkkaConfigurationBuilder AddCloonixCluster(this AkkaConfigurationBuilder builder, CloonixHostOptions options, bool tls)
    {
        var scheme = tls ? "akka.ssl.tcp" : "akka.tcp";
        var selfAddress = $"{scheme}://{CloonixHostOptions.SystemName}@{options.BindHost}:{options.BindPort}";
        var seeds = options.Seeds.Count == 0
            ? [selfAddress]
            : options.Seeds.Select(s => $"{scheme}://{CloonixHostOptions.SystemName}@{s}").ToArray();
        if (options.Rejoin && seeds.Length > 1)
        {
            seeds = [.. seeds.Where(s => s != selfAddress)];
        }

        return builder.WithClustering(new ClusterOptions { Roles = [HostRole], SeedNodes = seeds });
    }

    /// <summary>
    /// The lan-coordinator, one per cluster: a singleton on the oldest host (handed over when that host leaves),
    /// under back-off since a failed recovery or a crash stops it; failed writes are rejections it survives
    /// (decision 0011). Manager /user/lan-coordinator, singleton "singleton" (the paths every host of a cluster
    /// must agree on), proxy /user/lan-coordinator-proxy under <see cref="LanCoordinatorKey"/>.
    /// </summary>
    /// <remarks>
    /// Akka.Cluster.Hosting 1.5.73's singleton options have no back-off, so the singleton is a back-off supervisor;
    /// and its proxies are named after the singleton ("singleton-proxy"), so this one is made here under its own name.
    /// </remarks>
    public static AkkaConfigurationBuilder AddLanCoordinator(this AkkaConfigurationBuilder builder, CoordinatorSettings settings) =>
        builder
            .WithSingleton<LanCoordinatorKey>(
                LanCoordinator.Id,
                CoordinatorSingletonName,
                (_, _, _) => RestartedWhenStopped(LanCoordinator.Props(settings), "coordinator"),
                new ClusterSingletonOptions { Role = HostRole, TerminationMessage = PoisonPill.Instance },
                createProxyToo: false)
            .WithActors((system, registry) =>
            {
                var proxy = system.ActorOf(
                    ClusterSingletonProxy.Props($"/user/{LanCoordinator.Id}", ClusterSingletonProxySettings.Create(system).WithRole(HostRole).WithSingletonName(CoordinatorSingletonName)),
                    $"{LanCoordinator.Id}-proxy");
                registry.Register<LanCoordinatorKey>(proxy);
            });

    /// <summary>
    /// The host agent and its data plane at /user/host (under <see cref="HostAgentKey"/>), reporting to the
    /// lan-coordinator: a failed recovery or a crash stops it and the back-off supervisor starts it again, to
    /// recover from the journal and adopt the data plane; failed writes are rejections it survives with its
    /// children (decision 0011).
    /// </summary>
    /// <param name="dataPlane">Made as the agent starts: the real one probes the host.</param>
    public static AkkaConfigurationBuilder AddHostAgent(this AkkaConfigurationBuilder builder, HostSettings settings, Func<HostPlane> dataPlane) =>
        builder.WithActors((system, registry) =>
        {
            var coordinator = registry.Get<LanCoordinatorKey>();
            var supervisor = system.ActorOf(RestartedWhenStopped(HostAgent.Props(settings, dataPlane(), coordinator), "agent"), "host");
            registry.Register<HostAgentKey>(supervisor);
        });

    /// <summary>
    /// The api at /user/api (under <see cref="CloonixApiKey"/>), registered with the cluster-client receptionist:
    /// the console client is never a member, so it counts in no majority; the api checks its secret.
    /// </summary>
    public static AkkaConfigurationBuilder AddCloonixApi(this AkkaConfigurationBuilder builder, string secret, string hostName) =>
        builder
            .WithClusterClientReceptionist("receptionist", HostRole)
            .WithActors((system, registry) =>
            {
                var api = system.ActorOf(ApiActor.Props(secret, registry.Get<HostAgentKey>(), registry.Get<LanCoordinatorKey>(), hostName), "api");
                registry.Register<CloonixApiKey>(api);
                ClusterClientReceptionist.Get(system).RegisterService(api);
            });

    /// <summary>
    /// A clean stop removes this host's data plane (service-stop phase); a host the cluster downed keeps it, as
    /// after kill -9, for the next ActorSystem to adopt when it rejoins (<paramref name="onDowned"/> tells the daemon).
    /// </summary>
    public static AkkaConfigurationBuilder AddDataPlaneTeardown(this AkkaConfigurationBuilder builder, TimeSpan timeout, Action? onDowned = null) =>
        builder.WithActors((system, registry) =>
        {
            var agent = registry.Get<HostAgentKey>();
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceStop, "remove-data-plane", async () =>
            {
                if (CoordinatedShutdown.Get(system).ShutdownReason is CoordinatedShutdown.ClusterDowningReason)
                {
                    system.Log.Warning("this host was downed by the cluster: keeping the data plane, rejoining");
                    onDowned?.Invoke();
                    return Akka.Done.Instance;
                }

                try
                {
                    await agent.Ask<object>(TeardownDataPlane.Instance, timeout).ConfigureAwait(false);
                }
                catch (AskTimeoutException)
                {
                    system.Log.Warning("data plane not fully removed before shutdown");
                }

                return Akka.Done.Instance;
            });
        });

    /// <summary>A supervisor that starts <paramref name="child"/> again, with back-off, whenever it stops.</summary>
    private static Props RestartedWhenStopped(Props child, string childName) =>
        BackoffSupervisor.Props(Backoff.OnStop(child, childName, RestartDelays.Min, RestartDelays.Max, RestartDelays.Jitter, -1));

    private static HostSettings HostSettingsFrom(Config config, CloonixHostOptions options) => new(
        options.HostName,
        options.StateDir,
        options.PersistenceDescription,
        config.GetInt("cloonix.snapshot-every", 100),
        config.GetTimeSpan("cloonix.command-timeout", TimeSpan.FromSeconds(60)),
        config.GetString("cloonix.fault-injection", "off") == "on");

    /// <summary>
    /// akka.remote.dot-netty.tcp.enable-ssl (on in hocon/base.conf). Off only to measure what TLS costs
    /// (bench/tls.py): then anyone who reaches the port is trusted like a member.
    /// </summary>
    public static bool TlsEnabled(Config config) => config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl", false);

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
