using System.Runtime.InteropServices;

namespace CloonixActors.DataPlane;

/// <summary>
/// Starts, finds and stops one private ovsdb-server and ovs-vswitchd. Both detach and write pid files
/// under <see cref="OvsPaths.Dir"/>, so a restarted cloonixd can adopt the ones already running.
/// </summary>
/// <summary>How to run OVS-DPDK: the switch's binary and the DPDK settings it reads once at start.</summary>
public sealed record DpdkSettings(string Binary, int SocketMemMb, string PmdCpuMask, int PmdMaxSleepUs)
{
    public const string DefaultBinary = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk";
    public const string PluginDir = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0";
    public const int PagesPerPort = 32;

    /// <summary>
    /// Null when this host can run OVS-DPDK, else why not: the DPDK build of the switch, its driver
    /// plugins (missing ones make every mempool fail) and free 2 MiB hugepages (prepared by set-up).
    /// </summary>
    public static string? Unavailable(string binary = DefaultBinary)
    {
        if (!File.Exists(binary))
        {
            return $"the DPDK build of Open vSwitch ({binary}) is not installed";
        }

        foreach (var plugin in new[] { "librte_mempool_ring.so.23", "librte_net_vhost.so.23", "librte_net_virtio.so.23" })
        {
            if (!File.Exists(Path.Combine(PluginDir, plugin)))
            {
                return $"the DPDK plugin {plugin} is not installed";
            }
        }

        var free = FreeHugePages();
        return free < 2 + (2 * PagesPerPort)
            ? $"only {free} free 2 MiB hugepages (OVS-DPDK needs {2 + (2 * PagesPerPort)} or more: set vm.nr_hugepages)"
            : null;
    }

    public static int FreeHugePages()
    {
        try
        {
            return int.Parse(File.ReadAllText("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>The PMD thread polls on the last core; pmd-maxsleep lets it sleep when idle (about 2% of a core instead of 100%).</summary>
    public static DpdkSettings Default() =>
        new(DefaultBinary, 64, $"0x{1L << (Environment.ProcessorCount - 1):x}", 1000);
}

public sealed partial class OvsDaemons(OvsPaths paths, string switchBinary = "ovs-vswitchd", DpdkSettings? dpdk = null)
{
    public DpdkSettings? Dpdk { get; } = dpdk;

    public string SwitchBinary => Dpdk?.Binary ?? switchBinary;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    public OvsPaths Paths { get; } = paths;

    public int? RunningDbServer() => AlivePid(Paths.DbPidFile, "ovsdb-server");

    public int? RunningSwitch() => AlivePid(Paths.SwitchPidFile, Path.GetFileName(SwitchBinary));

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
        // A switch of the other build (DPDK on or off since the last start) would hold the namespace's taps.
        if (AlivePid(Paths.SwitchPidFile, null) is { } stray)
        {
            await Processes.TerminateAsync(stray, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        var ns = Paths.SwitchNamespace;
        if (!File.Exists(Path.Combine("/run/netns", ns)))
        {
            await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", ns], StartTimeout).ConfigureAwait(false);
            await ProcessRunner.RunCheckedAsync("ip", ["-n", ns, "link", "set", "lo", "up"], StartTimeout).ConfigureAwait(false);
        }

        // Read once at start: TSO through the userspace datapath lets guests and containers keep their
        // checksum and segmentation offloads (about 10x the TCP throughput of software checksums).
        var settings = new List<string> { "other_config:userspace-tso-enable=true" };
        if (Dpdk is { } d)
        {
            settings.AddRange(
            [
                "other_config:dpdk-init=true",
                $"other_config:dpdk-socket-mem={d.SocketMemMb}",
                "other_config:per-port-memory=true",
                // Without --single-file-segments a net_virtio_user port attaches but never passes a packet.
                "other_config:dpdk-extra=--no-pci --iova-mode=va --single-file-segments",
                $"other_config:pmd-cpu-mask={d.PmdCpuMask}",
                $"other_config:pmd-maxsleep={d.PmdMaxSleepUs}",
            ]);
        }
        else
        {
            settings.Add("other_config:dpdk-init=false");
        }

        await ProcessRunner.RunCheckedAsync(
            "ovs-vsctl",
            [$"--db=unix:{Paths.DbSocket}", "--no-wait", "set", "Open_vSwitch", ".", .. settings],
            StartTimeout,
            Paths.Environment).ConfigureAwait(false);
        await ProcessRunner.RunCheckedAsync(
            "ip",
            [
                "netns", "exec", ns,
                SwitchBinary,
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

    private static int? AlivePid(string pidFile, string? comm)
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
