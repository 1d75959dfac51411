using System.Runtime.InteropServices;

namespace CloonixActors.DataPlane;

/// <summary>
/// Starts, finds and stops one private ovsdb-server and ovs-vswitchd. Both detach and write pid files
/// under <see cref="OvsPaths.Dir"/>, so a restarted cloonixd can adopt the ones already running.
/// </summary>
public sealed partial class OvsDaemons(OvsPaths paths, string switchBinary = "ovs-vswitchd")
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    public OvsPaths Paths { get; } = paths;

    public int? RunningDbServer() => AlivePid(Paths.DbPidFile, "ovsdb-server");

    public int? RunningSwitch() => AlivePid(Paths.SwitchPidFile, Path.GetFileName(switchBinary));

    public async Task<int> StartDbServerAsync()
    {
        Directory.CreateDirectory(Paths.Dir);
        if (!File.Exists(Paths.DbFile))
        {
            await ProcessRunner.RunCheckedAsync("ovsdb-tool", ["create", Paths.DbFile, OvsPaths.Schema], StartTimeout, Paths.Environment).ConfigureAwait(false);
        }

        File.Delete(Paths.DbSocket);
        await ProcessRunner.RunCheckedAsync(
            "ovsdb-server",
            [
                Paths.DbFile,
                $"--remote=punix:{Paths.DbSocket}",
                $"--pidfile={Paths.DbPidFile}",
                $"--log-file={Paths.DbLog}",
                $"--unixctl={Path.Combine(Paths.Dir, "ovsdb-server.ctl")}",
                "--detach",
            ],
            StartTimeout,
            Paths.Environment).ConfigureAwait(false);
        await ProcessRunner.RunCheckedAsync("ovs-vsctl", [$"--db=unix:{Paths.DbSocket}", "--no-wait", "init"], StartTimeout, Paths.Environment).ConfigureAwait(false);
        return RunningDbServer() ?? throw new DataPlaneException("ovsdb-server started but its pid file names no live process");
    }

    public async Task<int> StartSwitchAsync()
    {
        var ns = Paths.SwitchNamespace;
        if (!File.Exists(Path.Combine("/run/netns", ns)))
        {
            await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", ns], StartTimeout).ConfigureAwait(false);
            await ProcessRunner.RunCheckedAsync("ip", ["-n", ns, "link", "set", "lo", "up"], StartTimeout).ConfigureAwait(false);
        }

        // Read once at start: TSO through the userspace datapath lets guests and containers keep their
        // checksum and segmentation offloads (about 10x the TCP throughput of software checksums).
        await ProcessRunner.RunCheckedAsync(
            "ovs-vsctl",
            [$"--db=unix:{Paths.DbSocket}", "--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true"],
            StartTimeout,
            Paths.Environment).ConfigureAwait(false);
        await ProcessRunner.RunCheckedAsync(
            "ip",
            [
                "netns", "exec", ns,
                switchBinary,
                $"unix:{Paths.DbSocket}",
                $"--pidfile={Paths.SwitchPidFile}",
                $"--log-file={Paths.SwitchLog}",
                $"--unixctl={Path.Combine(Paths.Dir, "ovs-vswitchd.ctl")}",
                "--detach",
            ],
            StartTimeout,
            Paths.Environment).ConfigureAwait(false);
        return RunningSwitch() ?? throw new DataPlaneException("ovs-vswitchd started but its pid file names no live process");
    }

    /// <summary>Stops both daemons (SIGTERM, then SIGKILL after a grace period) and removes the switch's namespace.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        foreach (var pid in new[] { RunningSwitch(), RunningDbServer() })
        {
            if (pid is { } p)
            {
                await Processes.TerminateAsync(p, grace).ConfigureAwait(false);
            }
        }

        if (File.Exists(Path.Combine("/run/netns", Paths.SwitchNamespace)))
        {
            await ProcessRunner.RunCheckedAsync("ip", ["netns", "del", Paths.SwitchNamespace], StartTimeout).ConfigureAwait(false);
        }
    }

    private static int? AlivePid(string pidFile, string comm)
    {
        try
        {
            var text = File.ReadAllText(pidFile).Trim();
            return int.TryParse(text, out var pid) && Processes.IsAlive(pid, comm) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>Process facts read from /proc and signals sent with kill(2); for processes that are not our children.</summary>
public static partial class Processes
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int sig);

    public static bool Signal(int pid, int sig) => SysKill(pid, sig) == 0;

    /// <summary>True when the pid runs (not a zombie) and, if given, its command name matches (15 chars, as the kernel keeps it).</summary>
    public static bool IsAlive(int pid, string? comm = null)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            if (open < 0 || close < open)
            {
                return false;
            }

            var name = stat[(open + 1)..close];
            var state = stat.Length > close + 2 ? stat[close + 2] : '?';
            if (state is 'Z' or 'X')
            {
                return false;
            }

            return comm is null || name == (comm.Length > 15 ? comm[..15] : comm);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static async Task TerminateAsync(int pid, TimeSpan grace)
    {
        if (!IsAlive(pid))
        {
            return;
        }

        Signal(pid, SigTerm);
        var deadline = DateTime.UtcNow + grace;
        while (IsAlive(pid) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        if (IsAlive(pid))
        {
            Signal(pid, SigKill);
        }
    }
}
