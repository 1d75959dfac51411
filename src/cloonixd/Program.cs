using System.CommandLine;
using Akka.Hosting;
using CloonixActors.Host;
using CloonixActors.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CloonixActors.Daemon;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var stateDir = new Option<string>("--state-dir")
        {
            Description = "where the journal, the secret, the logs and the private OVS live (env CLOONIX_STATE_DIR)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_STATE_DIR") ?? CloonixHostOptions.DefaultStateDir,
        };
        var config = new Option<string?>("--config") { Description = "an extra HOCON file layered over hocon/*.conf" };
        var bind = new Option<string>("--bind")
        {
            Description = "ADDR:PORT for remoting (env CLOONIX_BIND)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_BIND") ?? $"127.0.0.1:{CloonixHostOptions.DefaultPort}",
        };
        var seeds = new Option<string[]>("--seed")
        {
            Description = "ADDR:PORT of a seed host; repeat for several (env CLOONIX_SEEDS, comma separated); none: a cluster of one",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => (Environment.GetEnvironmentVariable("CLOONIX_SEEDS") ?? string.Empty)
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
        var name = new Option<string>("--name")
        {
            Description = "this host's name in the cluster (env CLOONIX_HOST_NAME); default: the machine's host name",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_HOST_NAME") ?? CloonixHostOptions.DefaultHostName(),
        };
        var persistence = new Option<string>("--persistence")
        {
            Description = "sqlite (a file in the state dir, the default) or postgresql (several hosts) (env CLOONIX_PERSISTENCE)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_PERSISTENCE") ?? "sqlite",
        };
        var connection = new Option<string?>("--connection-string")
        {
            Description = "PostgreSQL connection string, e.g. Host=db;Database=cloonix;Username=cloonix;Password=... (env CLOONIX_DB)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_DB"),
        };
        var root = new RootCommand("cloonixd: the CloonixActors host daemon") { stateDir, config, bind, seeds, name, persistence, connection };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"cloonixd: {error.Message}").ConfigureAwait(false);
            }

            return 2;
        }

        if (parsed.Action is not null && parsed.CommandResult.Command == root && args.Any(a => a is "-h" or "--help" or "-?" or "--version"))
        {
            return await parsed.InvokeAsync().ConfigureAwait(false);
        }

        if (!Endpoint.TryParse(parsed.GetValue(bind), out var endpoint))
        {
            await Console.Error.WriteLineAsync($"cloonixd: --bind '{parsed.GetValue(bind)}' is not ADDR:PORT").ConfigureAwait(false);
            return 2;
        }

        var options = new CloonixHostOptions
        {
            StateDir = Path.GetFullPath(parsed.GetValue(stateDir)!),
            HostName = parsed.GetValue(name)!,
            BindHost = endpoint.Host,
            BindPort = endpoint.Port,
            Seeds = parsed.GetValue(seeds) ?? [],
            ConfigFile = parsed.GetValue(config),
            Persistence = parsed.GetValue(persistence)!,
            ConnectionString = parsed.GetValue(connection),
        };
        if (options.Problem() is { } problem)
        {
            await Console.Error.WriteLineAsync($"cloonixd: {problem}").ConfigureAwait(false);
            return 2;
        }

        if (options.ConfigFile is { } file && !File.Exists(file))
        {
            await Console.Error.WriteLineAsync($"cloonixd: config file {file} does not exist").ConfigureAwait(false);
            return 2;
        }

        Directory.CreateDirectory(options.StateDir);
        using var stateLock = StateDirLock.TryAcquire(options.StateDir, out var holder);
        if (stateLock is null)
        {
            await Console.Error.WriteLineAsync($"cloonixd: state dir {options.StateDir} is in use by another cloonixd{holder}").ConfigureAwait(false);
            return 3;
        }

        await using var journal = await CloonixActors.Host.Persistence.JournalProbe.OpenAsync(options, Console.Error).ConfigureAwait(false);
        if (journal is null)
        {
            return 1;
        }

        RemotingWorkarounds.PinDotNettyMachineId();
        // A host the cluster downs (cut off from the majority) keeps its data plane and starts a new
        // ActorSystem that joins the others again once they are reachable; any other stop ends the daemon.
        for (var run = 0; ; run++)
        {
            var downed = false;
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(90));
            var runOptions = options with { Rejoin = run > 0 };
            builder.Services.AddAkka(CloonixHostOptions.SystemName, (akka, _) => akka.AddCloonixHost(runOptions, () => downed = true));
            try
            {
                await builder.Build().RunAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"cloonixd: {ex.Message}").ConfigureAwait(false);
                return 1;
            }

            if (!downed)
            {
                break;
            }

            await Console.Error.WriteLineAsync("cloonixd: downed by the cluster; starting again to rejoin").ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }

        return 0;
    }
}

/// <summary>One cloonixd per state dir: an exclusive lock file that holds our pid.</summary>
internal static class StateDirLock
{
    public static FileStream? TryAcquire(string stateDir, out string holder)
    {
        var path = Path.Combine(stateDir, "cloonixd.pid");
        holder = string.Empty;
        try
        {
            // FileShare.None takes an advisory lock on Unix; the kernel drops it when the process dies.
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            var pid = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
            stream.Write(pid);
            stream.Flush();
            return stream;
        }
        catch (IOException)
        {
            try
            {
                holder = $" (pid {File.ReadAllText(path).Trim()})";
            }
            catch (IOException)
            {
            }

            return null;
        }
    }
}
