using System.Data.Common;
using System.Text.RegularExpressions;
using Akka.Configuration;
using CloonixActors.Host;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace CloonixActors.Tests.Docker;

/// <summary>
/// docker/compose.yaml and docker/Dockerfile, checked without Docker: the hosts run cloonixd with flags the
/// daemon declares and values it accepts, their seeds name hosts of the file at the address those bind,
/// each host has its own state and hugepages and the one shared secret, and the journal's connection
/// string matches the PostgreSQL service.
/// </summary>
public sealed partial class ComposeSpecs
{
    private static readonly string Root = FindRoot();

    private static readonly Dictionary<object, object> Compose = LoadCompose();

    private static Dictionary<object, object> Services => Map(Compose["services"]);

    /// <summary>The cloonixd hosts: the services built from or running the host image.</summary>
    private static List<Host> Hosts { get; } =
        [.. Services.Where(s => Map(s.Value).ContainsKey("command") && Str(Map(s.Value).GetValueOrDefault("image")).StartsWith("cloonixactors-host", StringComparison.Ordinal))
            .Select(s => new Host(Str(s.Key), Map(s.Value)))];

    [Fact]
    public void The_file_runs_three_privileged_hosts_and_postgresql_15()
    {
        Assert.Equal(["h1", "h2", "h3"], Hosts.Select(h => h.Name).Order(StringComparer.Ordinal));
        Assert.All(Hosts, h => Assert.Equal("true", Str(h.Service["privileged"])));
        Assert.Contains(Services.Values, s => Str(Map(s).GetValueOrDefault("image")) == "postgres:15");
    }

    [Fact]
    public void Every_flag_a_host_passes_is_one_cloonixd_declares()
    {
        var declared = DaemonFlags();
        Assert.Contains("--bind", declared);
        Assert.Contains("--connection-string", declared);
        foreach (var host in Hosts)
        {
            Assert.All(host.Flags.Keys, f => Assert.True(declared.Contains(f), $"{host.Name}: cloonixd has no flag {f} (it has {string.Join(' ', declared)})"));
        }
    }

    [Fact]
    public void Every_host_s_options_pass_the_daemon_s_own_checks()
    {
        foreach (var host in Hosts)
        {
            var options = host.Options();
            Assert.Null(options.Problem());
            Assert.Equal(host.Name, options.HostName);
            Assert.Equal("postgresql", options.Persistence);
        }
    }

    [Fact]
    public void Each_host_binds_its_own_service_name_and_every_host_has_the_same_seeds_each_naming_a_host_at_its_bind()
    {
        var binds = Hosts.ToDictionary(h => h.Name, h => h.Bind);
        Assert.All(Hosts, h => Assert.Equal(h.Name, h.Bind.Host));
        var seeds = Hosts[0].Flags["--seed"];
        Assert.NotEmpty(seeds);
        foreach (var host in Hosts)
        {
            // Only the first seed may form a cluster on its own: every host must list the same seeds in the same order.
            Assert.Equal(seeds, host.Flags["--seed"]);
        }

        foreach (var seed in seeds)
        {
            Assert.True(Endpoint.TryParse(seed, out var endpoint), seed);
            Assert.True(binds.TryGetValue(endpoint.Host, out var bind), $"seed {seed} names no host of the file");
            Assert.Equal(bind, endpoint);
        }

        // The first seed starts first and alone (it creates the journal's schema); the others wait for it.
        var first = seeds[0].Split(':')[0];
        foreach (var host in Hosts.Where(h => h.Name != first))
        {
            Assert.Equal("service_healthy", Str(Map(host.DependsOn[first])["condition"]));
        }
    }

    [Fact]
    public void Each_host_has_a_state_volume_and_a_hugetlbfs_of_its_own_and_the_one_shared_secret()
    {
        var volumes = Map(Compose["volumes"]);
        var states = Hosts.Select(h => h.VolumeAt(h.Options().StateDir)).ToList();
        var hugepages = Hosts.Select(h => h.VolumeAt("/dev/hugepages")).ToList();
        Assert.Equal(Hosts.Count, states.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(Hosts.Count, hugepages.Distinct(StringComparer.Ordinal).Count());
        Assert.All(states.Concat(hugepages), v => Assert.True(volumes.ContainsKey(v), $"volume {v} is not declared"));
        Assert.All(hugepages, v => Assert.Equal("hugetlbfs", Str(Map(Map(volumes[v])["driver_opts"])["type"])));

        var secrets = Hosts.Select(h => string.Join(',', List(h.Service["secrets"]).Select(Str))).Distinct(StringComparer.Ordinal).ToList();
        var secret = Assert.Single(secrets);
        Assert.True(Map(Map(Compose["secrets"])[secret]).ContainsKey("file"));
        // docker/entrypoint.sh copies it from the default path compose mounts it at into STATE_DIR/secret.
        Assert.Contains($"/run/secrets/{secret}", File.ReadAllText(Path.Combine(Root, "docker", "entrypoint.sh")), StringComparison.Ordinal);
    }

    [Fact]
    public void The_connection_string_names_the_postgresql_service_and_its_credentials()
    {
        foreach (var host in Hosts)
        {
            var csb = new DbConnectionStringBuilder { ConnectionString = Assert.Single(host.Flags["--connection-string"]) };
            var db = Str(csb["Host"]);
            Assert.True(Services.ContainsKey(db), $"{host.Name}: the connection string's Host {db} is no service");
            var env = Map(Map(Services[db])["environment"]);
            Assert.Equal(Str(env["POSTGRES_USER"]), Str(csb["Username"]));
            Assert.Equal(Str(env["POSTGRES_PASSWORD"]), Str(csb["Password"]));
            Assert.Equal(Str(env["POSTGRES_DB"]), Str(csb["Database"]));
            Assert.Equal("service_healthy", Str(Map(host.DependsOn[db])["condition"]));
        }
    }

    [Fact]
    public void The_config_file_hosts_load_is_in_the_image_parses_and_points_at_the_image_s_guests()
    {
        var copies = DockerfileCopies();
        foreach (var host in Hosts)
        {
            var path = Assert.Single(host.Flags["--config"]);
            Assert.True(copies.TryGetValue(path, out var source), $"{host.Name}: the Dockerfile copies nothing to {path}");
            var config = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(Root, source)));
            var imagesDir = config.GetString("cloonix.images-dir");
            Assert.Equal("/out/images/", copies[imagesDir.TrimEnd('/') + "/"]);
        }
    }

    private sealed record Host(string Name, Dictionary<object, object> Service)
    {
        /// <summary>FLAG VALUE pairs (every cloonixd flag takes a value), a flag's values in order.</summary>
        public Dictionary<string, List<string>> Flags { get; } = ParseFlags(Name, List(Service["command"]).Select(Str).ToList());

        public Endpoint Bind => Endpoint.TryParse(Assert.Single(Flags["--bind"]), out var e) ? e : throw new InvalidDataException($"{Name}: --bind is not ADDR:PORT");

        public Dictionary<object, object> DependsOn => Map(Service["depends_on"]);

        public CloonixHostOptions Options() => new()
        {
            StateDir = Flags.TryGetValue("--state-dir", out var dir) ? dir[^1] : CloonixHostOptions.DefaultStateDir,
            HostName = Assert.Single(Flags["--name"]),
            BindHost = Bind.Host,
            BindPort = Bind.Port,
            Seeds = Flags.GetValueOrDefault("--seed", []),
            ConfigFile = Flags.GetValueOrDefault("--config")?[^1],
            Persistence = Assert.Single(Flags["--persistence"]),
            ConnectionString = Flags.GetValueOrDefault("--connection-string")?[^1],
        };

        /// <summary>The named volume mounted at a container path (short syntax VOLUME:PATH).</summary>
        public string VolumeAt(string path)
        {
            var mounts = List(Service["volumes"]).Select(Str).Select(v => v.Split(':')).Where(p => p.Length >= 2 && p[1] == path).ToList();
            return Assert.Single(mounts)[0];
        }

        private static Dictionary<string, List<string>> ParseFlags(string name, List<string> command)
        {
            Assert.True(command.Count % 2 == 0, $"{name}: the command is not FLAG VALUE pairs: {string.Join(' ', command)}");
            var flags = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            for (var i = 0; i < command.Count; i += 2)
            {
                Assert.StartsWith("--", command[i], StringComparison.Ordinal);
                Assert.False(command[i + 1].StartsWith("--", StringComparison.Ordinal), $"{name}: {command[i]} has no value");
                if (!flags.TryGetValue(command[i], out var values))
                {
                    flags[command[i]] = values = [];
                }

                values.Add(command[i + 1]);
            }

            return flags;
        }
    }

    /// <summary>The long flags src/cloonixd/Program.cs declares (new Option&lt;T&gt;("--flag")).</summary>
    private static HashSet<string> DaemonFlags() =>
        [.. OptionDeclaration().Matches(File.ReadAllText(Path.Combine(Root, "src", "cloonixd", "Program.cs"))).Select(m => m.Groups[1].Value)];

    /// <summary>The Dockerfile's COPY lines, destination to source.</summary>
    private static Dictionary<string, string> DockerfileCopies() =>
        File.ReadAllLines(Path.Combine(Root, "docker", "Dockerfile"))
            .Select(l => CopyLine().Match(l))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value, StringComparer.Ordinal);

    [GeneratedRegex("""new\s+Option<[^>]+>\(\s*"(--[a-z][a-z-]*)"\s*\)""")]
    private static partial Regex OptionDeclaration();

    [GeneratedRegex("""^COPY\s+(?:--\S+\s+)*(\S+)\s+(\S+)\s*$""")]
    private static partial Regex CopyLine();

    private static Dictionary<object, object> LoadCompose()
    {
        using var reader = new StringReader(File.ReadAllText(Path.Combine(Root, "docker", "compose.yaml")));
        // The hosts share their settings through a YAML anchor and merge keys (<<: *host), as compose reads them.
        return new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(new MergingParser(new Parser(reader)));
    }

    private static Dictionary<object, object> Map(object? o) => o as Dictionary<object, object> ?? throw new InvalidDataException($"not a mapping: {o}");

    private static List<object> List(object? o) => o as List<object> ?? throw new InvalidDataException($"not a sequence: {o}");

    private static string Str(object? o) => o?.ToString() ?? string.Empty;

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CloonixActors.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no CloonixActors.sln above {AppContext.BaseDirectory}");
    }
}
