using System.CommandLine;
using System.Reflection;
using System.Security.Cryptography;
using Akka.Configuration;
using Akka.Hosting;
using CloonixActors.Host;
using CloonixActors.Host.Security;
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

        // A typo in HOCON or a value of the wrong type is one line and exit 2 here, before anything starts.
        if (ConfigCheck.Problem(options) is { } configProblem)
        {
            await Console.Error.WriteLineAsync($"cloonixd: {configProblem}").ConfigureAwait(false);
            return 2;
        }

        if (BindProblem(endpoint) is { } bindProblem)
        {
            await Console.Error.WriteLineAsync($"cloonixd: --bind {endpoint}: {bindProblem}").ConfigureAwait(false);
            return 2;
        }

        Directory.CreateDirectory(options.StateDir);
        using var stateLock = StateDirLock.TryAcquire(options.StateDir, out var holder);
        if (stateLock is null)
        {
            await Console.Error.WriteLineAsync($"cloonixd: state dir {options.StateDir} is in use by another cloonixd{holder}").ConfigureAwait(false);
            return 3;
        }

        // The certificates (made on a first start) under the state dir's lock: two daemons never both make an authority.
        if (ConfigCheck.TlsProblem(options) is { } tlsProblem)
        {
            await Console.Error.WriteLineAsync($"cloonixd: {tlsProblem}").ConfigureAwait(false);
            return 2;
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
                await Console.Error.WriteLineAsync($"cloonixd: {ConfigCheck.OneLine(ex.Message)}").ConfigureAwait(false);
                return 1;
            }
            catch (Exception ex) when (ConfigCheck.IsConfigurationError(ex))
            {
                // A setting the early check does not know (Akka's own) that Akka refused while starting.
                await Console.Error.WriteLineAsync($"cloonixd: bad configuration: {ConfigCheck.OneLine(Innermost(ex).Message)}").ConfigureAwait(false);
                return 2;
            }
            catch (Exception ex) when (ex is AggregateException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                // Akka failing to start (its transport, its extensions): one line here, the whole story in the log.
                await File.AppendAllTextAsync(options.LogFile, $"{DateTime.UtcNow:O} cloonixd failed to start: {ex}\n").ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"cloonixd: {ConfigCheck.OneLine(Innermost(ex).Message)} (details in {options.LogFile})").ConfigureAwait(false);
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

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is { } inner)
        {
            ex = inner;
        }

        return ex;
    }

    /// <summary>
    /// Null when remoting can listen on <paramref name="endpoint"/>: the name resolves and the address is
    /// this machine's, with the port free. Akka's own failure to bind ends the process with an unhandled exception.
    /// </summary>
    private static string? BindProblem(Endpoint endpoint)
    {
        System.Net.IPAddress[] addresses;
        try
        {
            addresses = System.Net.IPAddress.TryParse(endpoint.Host, out var ip) ? [ip] : System.Net.Dns.GetHostAddresses(endpoint.Host);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            return $"cannot resolve {endpoint.Host}: {ex.Message}";
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }

        var address = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        if (address is null)
        {
            return $"{endpoint.Host} has no address";
        }

        try
        {
            using var probe = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            probe.Bind(new System.Net.IPEndPoint(address, endpoint.Port));
            return null;
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            return ex.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse
                ? $"port {endpoint.Port} is in use"
                : $"cannot listen on {address}: {ex.Message}";
        }
    }
}

/// <summary>
/// The configuration read once before anything starts, so that a broken --config file or a value of the
/// wrong type is one line on stderr (exit 2), not an exception with its stack from inside Akka.
/// </summary>
internal static class ConfigCheck
{
    public static string? Problem(CloonixHostOptions options)
    {
        if (options.ConfigFile is { } file && HoconSyntax.Problem(File.ReadAllText(file)) is { } syntax)
        {
            // Akka's parser reads past an unclosed brace or string and silently drops what follows.
            return $"{file}: {syntax}";
        }

        Config config;
        try
        {
            config = HostingExtensions.LoadConfig(options);
        }
        catch (Exception ex) when (IsConfigurationError(ex) || ex is IOException or UnauthorizedAccessException)
        {
            return $"cannot read {options.ConfigFile ?? "the configuration"}: {OneLine(ex.Message)}";
        }

        // Every value cloonixd reads at start, read here with the same types: a wrong one fails now.
        string? Check(string path, Func<Config, bool> valid, string expected)
        {
            try
            {
                return !config.HasPath(path) || valid(config) ? null : $"{path} must be {expected}";
            }
            catch (Exception ex) when (IsConfigurationError(ex))
            {
                return $"{path} must be {expected} ({OneLine(ex.Message)})";
            }
        }

        return Check("cloonix.snapshot-every", c => c.GetInt("cloonix.snapshot-every") >= 1, "a whole number of at least 1")
            ?? Check("cloonix.command-timeout", c => c.GetTimeSpan("cloonix.command-timeout") > TimeSpan.Zero, "a duration such as 60s")
            ?? Check("cloonix.fault-injection", c => c.GetString("cloonix.fault-injection") is "on" or "off", "on or off")
            ?? Check("cloonix.dpdk", c => c.GetString("cloonix.dpdk") is "auto" or "off", "auto or off")
            ?? Check("cloonix.relay.max-spins", c => c.GetInt("cloonix.relay.max-spins") >= 0, "a whole number of 0 or more")
            ?? Check("cloonix.vxlan.port", c => c.GetInt("cloonix.vxlan.port") is >= 1 and <= 65535, "a port 1-65535")
            ?? Check("cloonix.vxlan.mtu", c => c.GetInt("cloonix.vxlan.mtu") is >= 576 and <= 65535, "an MTU 576-65535")
            ?? Check("cloonix.cluster-id", c => Domain.Names.Problem(c.GetString("cloonix.cluster-id"), "cluster id") is null || c.GetString("cloonix.cluster-id").Length == 0, "a valid name (lower-case letters, digits, '-', '_')")
            ?? Check("akka.remote.dot-netty.tcp.enable-ssl", c => c.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl") || !c.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"), "on or off")
            ?? Check("akka.remote.dot-netty.tcp.maximum-frame-size", c => c.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") >= 32000, "a size of at least 32000 bytes, such as 4MiB")
            ?? Check("akka.loglevel", c => c.GetString("akka.loglevel") is "DEBUG" or "INFO" or "WARNING" or "ERROR" or "OFF", "DEBUG, INFO, WARNING, ERROR or OFF");
    }

    /// <summary>Loads this host's certificate (making the authority and certificates on a first start).</summary>
    public static string? TlsProblem(CloonixHostOptions options)
    {
        if (!HostingExtensions.TlsEnabled(HostingExtensions.LoadConfig(options)))
        {
            Console.Error.WriteLine("cloonixd: TLS is off (akka.remote.dot-netty.tcp.enable-ssl = off): whoever reaches the remoting port is obeyed like a member; for measurements only");
            return null;
        }

        try
        {
            using var identity = new DisposableIdentity(ClusterCertificates.EnsureForHost(options.StateDir, options.HostName));
            return null;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or CryptographicException)
        {
            return OneLine(ex.Message);
        }
    }

    public static bool IsConfigurationError(Exception ex) =>
        ex is ConfigurationException or FormatException or OverflowException or InvalidCastException
        || (ex is AggregateException or TargetInvocationException && ex.InnerException is { } inner && IsConfigurationError(inner));

    public static string OneLine(string message)
    {
        var line = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "unknown error";
        return line.Length > 300 ? line[..300] + "..." : line;
    }

    private sealed class DisposableIdentity(TlsIdentity identity) : IDisposable
    {
        public void Dispose()
        {
            identity.Certificate.Dispose();
            foreach (var authority in identity.Authorities)
            {
                authority.Dispose();
            }
        }
    }
}

/// <summary>
/// The structure of a HOCON text: braces and brackets that match, strings that end. Akka's parser accepts
/// an unclosed '{' or '"' and drops the rest of the file without a word, so a typo would go unnoticed.
/// </summary>
internal static class HoconSyntax
{
    public static string? Problem(string text)
    {
        var open = new Stack<(char Bracket, int Line)>();
        var line = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n')
            {
                line++;
            }
            else if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i + 1 < text.Length && text[i + 1] != '\n')
                {
                    i++;
                }
            }
            else if (c == '"' && string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0)
            {
                var end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                if (end < 0)
                {
                    return $"line {line}: a \"\"\" string is not closed";
                }

                line += text.AsSpan(i, end - i).Count('\n');
                i = end + 2;
            }
            else if (c == '"')
            {
                var start = line;
                for (i++; ; i++)
                {
                    if (i >= text.Length || text[i] == '\n')
                    {
                        return $"line {start}: a quoted string is not closed on its line";
                    }

                    if (text[i] == '\\')
                    {
                        i++;
                    }
                    else if (text[i] == '"')
                    {
                        break;
                    }
                }
            }
            else if (c is '{' or '[')
            {
                open.Push((c, line));
            }
            else if (c is '}' or ']')
            {
                var expected = c == '}' ? '{' : '[';
                if (open.Count == 0)
                {
                    return $"line {line}: '{c}' closes nothing";
                }

                var (bracket, at) = open.Pop();
                if (bracket != expected)
                {
                    return $"line {line}: '{c}' closes the '{bracket}' of line {at}";
                }
            }
        }

        return open.Count == 0 ? null : $"line {open.Peek().Line}: '{open.Peek().Bracket}' is never closed";
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
