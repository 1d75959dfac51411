using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;

namespace CloonixActors.IntegrationTests;

[AttributeUsage(AttributeTargets.Assembly)]
public sealed class BuildConfigurationAttribute(string configuration) : Attribute
{
    public string Configuration { get; } = configuration;
}

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>
/// One cloonixd host for one test: its own state dir, host name, port and private Open vSwitch. Drives it
/// with the real cloonix client. Disposing stops the daemon and removes everything it could have left,
/// even when the test failed half-way.
/// </summary>
public sealed class Lab : IDisposable
{
    private static readonly string Root = FindRoot();
    private static readonly string Configuration = typeof(Lab).Assembly.GetCustomAttribute<BuildConfigurationAttribute>()!.Configuration;
    private Process? _daemon;

    /// <param name="hocon">Extra daemon configuration (passed with --config), e.g. "cloonix.dpdk = off".</param>
    /// <param name="daemonArgs">Extra cloonixd flags, e.g. the PostgreSQL persistence.</param>
    /// <param name="hostNamespace">Run the daemon and the client inside this network namespace (a test host), bound to <paramref name="address"/>.</param>
    public Lab(string? hocon = null, IReadOnlyList<string>? daemonArgs = null, string? hostNamespace = null, string address = "127.0.0.1", int? port = null)
    {
        DaemonArgs = daemonArgs ?? [];
        HostNamespace = hostNamespace;
        Address = address;
        Host = "it" + Guid.NewGuid().ToString("N")[..8];
        StateDir = Path.Combine(Path.GetTempPath(), "cloonix-it", Host);
        Port = port ?? FreePort();
        Directory.CreateDirectory(StateDir);
        if (hocon is not null)
        {
            ConfigFile = Path.Combine(StateDir, "extra.conf");
            File.WriteAllText(ConfigFile, hocon);
        }
    }

    public string? ConfigFile { get; }

    public IReadOnlyList<string> DaemonArgs { get; }

    public string? HostNamespace { get; }

    public string Address { get; }

    public string Endpoint => $"{Address}:{Port}";

    /// <summary>
    /// A program and its arguments, run inside the test host's network namespace when there is one. Through
    /// nsenter, not `ip netns exec`: the latter gives the program a mount namespace of its own, where the
    /// namespaces cloonixd makes (switch, containers) would be mounted out of sight of the test and of the
    /// next daemon started after a kill -9, as if on another machine.
    /// </summary>
    private (string Program, IEnumerable<string> Args) InHost(string program, IEnumerable<string> args) =>
        HostNamespace is null ? (program, args) : ("nsenter", [$"--net=/run/netns/{HostNamespace}", "--", program, .. args]);

    public string Host { get; }

    public string StateDir { get; }

    public int Port { get; }

    public string SwitchNamespace => $"cxa.ovs.{Host}";

    public static string DaemonPath => Path.Combine(Root, "src", "cloonixd", "bin", Configuration, "net10.0", "cloonixd");

    public static string CliPath => Path.Combine(Root, "src", "cloonix", "bin", Configuration, "net10.0", "cloonix");

    public int DaemonPid => _daemon?.Id ?? 0;

    public string DaemonLog => File.Exists(Path.Combine(StateDir, "cloonixd.log")) ? File.ReadAllText(Path.Combine(StateDir, "cloonixd.log")) : string.Empty;

    /// <summary>Gives this host the cluster's shared secret (every host of a cluster needs the same one); call before the first start.</summary>
    public Lab WithSecret(string secret)
    {
        var path = Path.Combine(StateDir, "secret");
        File.WriteAllText(path, secret + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return this;
    }

    /// <summary>
    /// Makes a certificate authority in a directory of its own (`cloonix cert init`), from which hosts of one
    /// cluster get their certificates (<see cref="WithCertificatesFrom"/>); the caller deletes it.
    /// </summary>
    public static string MakeAuthority()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cloonix-it", "ca" + Guid.NewGuid().ToString("N")[..8]);
        var r = Run(CliPath, ["--tls-dir", dir, "cert", "init", "--name", "ca"]);
        Assert.True(r.ExitCode == 0, $"cloonix cert init: {r}");
        return dir;
    }

    /// <summary>
    /// Gives this host certificates of the cluster's authority in <paramref name="authorityDir"/> (every host
    /// of a cluster needs certificates of the same one, as it needs the same secret); call before the first start.
    /// </summary>
    public Lab WithCertificatesFrom(string authorityDir)
    {
        var r = Run(CliPath, ["--tls-dir", authorityDir, "cert", "issue", Host, "--out", TlsDir]);
        Assert.True(r.ExitCode == 0, $"cloonix cert issue {Host}: {r}");
        return this;
    }

    /// <summary>This host's certificates and the authority (ca.crt), made by cloonixd on its first start unless given.</summary>
    public string TlsDir => Path.Combine(StateDir, "tls");

    /// <summary>Starts cloonixd and waits until it answers `status`.</summary>
    public Lab Start()
    {
        var (program, daemonArgs) = InHost(DaemonPath, new[] { "--state-dir", StateDir, "--name", Host, "--bind", Endpoint }.Concat(ConfigFile is null ? [] : ["--config", ConfigFile]).Concat(DaemonArgs));
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in daemonArgs)
        {
            psi.ArgumentList.Add(a);
        }

        _daemon = Process.Start(psi)!;
        // Drain its stderr so a chatty daemon never blocks on a full pipe; the log file keeps it all.
        _daemon.ErrorDataReceived += (_, _) => { };
        _daemon.OutputDataReceived += (_, _) => { };
        _daemon.BeginErrorReadLine();
        _daemon.BeginOutputReadLine();
        WaitUntil(() => Cli("status").ExitCode == 0, TimeSpan.FromSeconds(60), "cloonixd to answer status");
        return this;
    }

    public CliResult Cli(params string[] args) => Cli(args, null);

    public CliResult Cli(string[] args, string? secretFile)
    {
        var all = new List<string> { "--contact", Endpoint };
        if (secretFile is null)
        {
            all.AddRange(["--state-dir", StateDir]);
        }
        else
        {
            all.AddRange(["--secret-file", secretFile, "--tls-dir", TlsDir]);
        }

        var (program, cliArgs) = InHost(CliPath, [.. all, .. args]);
        return Run(program, cliArgs);
    }

    /// <summary>
    /// Starts a long-running cloonix command (spy, events) in the background; its stdout goes byte for byte
    /// to <paramref name="stdoutFile"/> (a pcap stream), its stderr is collected.
    /// </summary>
    public CliStream StartCli(string stdoutFile, params string[] args)
    {
        var (program, cliArgs) = InHost(CliPath, ["--contact", Endpoint, "--state-dir", StateDir, .. args]);
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in cliArgs)
        {
            psi.ArgumentList.Add(a);
        }

        return new CliStream(Process.Start(psi)!, stdoutFile);
    }

    /// <summary>Runs a cloonix command that must succeed, and returns its stdout.</summary>
    public string Ok(params string[] args)
    {
        var r = Cli(args);
        Assert.True(r.ExitCode == 0, $"cloonix {string.Join(' ', args)} failed: {r}");
        return r.Stdout;
    }

    public JsonDocument Json(params string[] args) => JsonDocument.Parse(Ok([.. args, "--json"]));

    public CliResult Exec(string node, params string[] argv) => Cli(["exec", node, "--", .. argv]);

    /// <summary>Two containers with one nic each on one lan, addressed 198.18.0.1 and .2.</summary>
    public void TwoContainersOnLan(string lan = "lan1", string a = "c1", string b = "c2")
    {
        Ok("add", "lan", lan);
        Ok("add", "cnt", a, "--nics", "1");
        Ok("add", "cnt", b, "--nics", "1");
        Ok("connect", a, "0", lan);
        Ok("connect", b, "0", lan);
        Assert.Equal(0, Exec(a, "ip", "addr", "add", "198.18.0.1/24", "dev", "eth0").ExitCode);
        Assert.Equal(0, Exec(b, "ip", "addr", "add", "198.18.0.2/24", "dev", "eth0").ExitCode);
    }

    public bool Ping(string from, string to, int count = 1) =>
        Exec(from, "ping", "-c", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "-W", "1", to).ExitCode == 0;

    /// <summary>Ping until it passes; the data plane may still be converging (e.g. after a restart).</summary>
    public void WaitForPing(string from, string to, TimeSpan? within = null) =>
        WaitUntil(() => Ping(from, to), within ?? TimeSpan.FromSeconds(30), $"ping {from} -> {to}");

    /// <summary>iperf3 TCP between two nodes; returns bits per second as iperf3's receiver counted them.</summary>
    public double Iperf(string client, string server, string serverAddress, int seconds = 2)
    {
        Assert.Equal(0, Exec(server, "iperf3", "-s", "-D", "-1").ExitCode);
        // Containers have iproute2's ss, the tiny guest busybox's netstat.
        WaitUntil(() => Exec(server, "sh", "-c", "ss -ltn 2>/dev/null || netstat -ltn").Stdout.Contains(":5201", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "iperf3 server to listen");
        var r = Exec(client, "iperf3", "-c", serverAddress, "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "-J");
        Assert.True(r.ExitCode == 0, $"iperf3 failed: {r}");
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
    }

    public string BridgeOf(string lan)
    {
        using var ls = Json("ls");
        return ls.RootElement.GetProperty("lans").EnumerateArray().Single(l => l.GetProperty("name").GetString() == lan).GetProperty("bridge").GetString()!;
    }

    public string PortOf(string node, int nic)
    {
        using var ls = Json("ls");
        var n = ls.RootElement.GetProperty("nodes").EnumerateArray().Single(x => x.GetProperty("name").GetString() == node);
        return n.GetProperty("nics")[nic].GetProperty("hostInterface").GetString()!;
    }

    public IReadOnlyList<string> Namespaces() =>
        [.. Directory.Exists("/run/netns") ? Directory.GetFiles("/run/netns").Select(Path.GetFileName).OfType<string>().Where(n => n.StartsWith($"cxa-{Host}.", StringComparison.Ordinal)) : []];

    public IReadOnlyList<string> Vsctl(params string[] args)
    {
        var r = Run("ovs-vsctl", [$"--db=unix:{Path.Combine(StateDir, "ovs", "db.sock")}", .. args]);
        Assert.True(r.ExitCode == 0, $"ovs-vsctl {string.Join(' ', args)}: {r}");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public int? OvsPid(string daemon)
    {
        var file = Path.Combine(StateDir, "ovs", daemon + ".pid");
        return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out var pid) && IsRunning(pid) ? pid : null;
    }

    /// <summary>True while the process runs; a zombie waiting for init to reap it does not count.</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].TrimStart()[0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>kill -9 of the daemon: nothing of it runs its shutdown.</summary>
    public void KillDaemon()
    {
        _daemon!.Kill();
        _daemon.WaitForExit();
        _daemon.Dispose();
        _daemon = null;
    }

    /// <summary>SIGTERM and wait for a clean exit; returns the exit code.</summary>
    public int StopDaemon(TimeSpan? within = null)
    {
        if (_daemon is null)
        {
            return 0;
        }

        Run("kill", ["-TERM", _daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (!_daemon.WaitForExit(within ?? TimeSpan.FromSeconds(60)))
        {
            _daemon.Kill();
            _daemon.WaitForExit();
        }

        var code = _daemon.ExitCode;
        _daemon.Dispose();
        _daemon = null;
        return code;
    }

    public static void WaitUntil(Func<bool> condition, TimeSpan within, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > within)
            {
                throw new TimeoutException($"gave up waiting for {what} after {within.TotalSeconds:0} s");
            }

            Thread.Sleep(100);
        }
    }

    public static CliResult Run(string program, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(true);
        }

        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose()
    {
        StopDaemon(TimeSpan.FromSeconds(30));
        // Whatever the test did or failed to do: no process, namespace or switch of this host survives it.
        foreach (var daemon in new[] { "ovs-vswitchd", "ovsdb-server" })
        {
            if (OvsPid(daemon) is { } pid)
            {
                Run("kill", ["-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }
        }

        foreach (var ns in Namespaces().Append(SwitchNamespace))
        {
            if (File.Exists(Path.Combine("/run/netns", ns)))
            {
                foreach (var pid in Run("ip", ["netns", "pids", ns]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    Run("kill", ["-KILL", pid.Trim()]);
                }

                Run("ip", ["netns", "del", ns]);
            }
        }

        try
        {
            Directory.Delete(StateDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string FindRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "CloonixActors.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("CloonixActors.sln not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition("dataplane", DisableParallelization = true)]
public sealed class DataPlaneCollection;

/// <summary>
/// A background cloonix process: stdout copied to a file, stderr collected, stopped with SIGTERM, never with
/// Ctrl-C's signal: a test run started from a background job or under nohup hands its children that signal
/// ignored, and an ignored signal stays ignored in every process started below it.
/// </summary>
public sealed class CliStream : IDisposable
{
    private readonly Process _process;
    private readonly Task _copy;
    private readonly System.Text.StringBuilder _stderr = new();

    public CliStream(Process process, string stdoutFile)
    {
        _process = process;
        // Unbuffered and readable meanwhile: a test can wait on what the stream has written so far.
        var file = new FileStream(stdoutFile, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1);
        _copy = Task.Run(async () =>
        {
            await using (file)
            {
                await process.StandardOutput.BaseStream.CopyToAsync(file);
            }
        });
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public void WaitForStderr(string text) =>
        Lab.WaitUntil(() => Stderr.Contains(text, StringComparison.Ordinal) || _process.HasExited, TimeSpan.FromSeconds(30), $"'{text}' from cloonix ({Stderr})");

    /// <summary>SIGTERM (the client ends on it as on Ctrl-C), then the exit code once stdout is fully copied.</summary>
    public int Stop()
    {
        if (!_process.HasExited)
        {
            Lab.Run("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        return Wait();
    }

    public int Wait()
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            _process.Kill();
        }

        _process.WaitForExit();
        _copy.Wait(TimeSpan.FromSeconds(30));
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
