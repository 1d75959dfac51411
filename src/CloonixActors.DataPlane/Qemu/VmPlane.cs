namespace CloonixActors.DataPlane.Qemu;

/// <summary>QEMU processes of VMs; the seam that actor tests replace.</summary>
public interface IVmPlane
{
    Acceleration Accel { get; }

    /// <summary>The pid of this VM's QEMU if one still runs (a cloonixd killed with -9 leaves it running).</summary>
    int? Running(string vm);

    /// <summary>Makes the VM's directory (and its disk overlay) and starts QEMU; returns its pid.</summary>
    Task<int> LaunchAsync(VmLaunch launch, string vmDir, string? baseImage);

    bool IsAlive(string vm, int pid);

    /// <summary>Asks politely (ACPI power button), then quits QEMU after <paramref name="grace"/>, then kills it.</summary>
    Task StopAsync(string vm, int pid, TimeSpan grace);

    Task<ProcessResult> ExecAsync(string vm, IReadOnlyList<string> argv, TimeSpan timeout);

    /// <summary>Removes the VM's directory: sockets, console log, overlay.</summary>
    void Remove(string vm);
}

/// <summary>
/// <see cref="IVmPlane"/> on qemu-system-x86_64. QEMU daemonizes (-daemonize, -pidfile) inside the switch's
/// namespace, where its taps must appear: it outlives a crashed cloonixd, which adopts it by pid file.
/// </summary>
public sealed class LinuxVmPlane(string stateDir, string switchNamespace, Acceleration accel) : IVmPlane
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public Acceleration Accel { get; } = accel;

    public int? Running(string vm)
    {
        try
        {
            var text = File.ReadAllText(VmPaths.Pid(stateDir, vm)).Trim();
            return int.TryParse(text, out var pid) && IsAlive(vm, pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public async Task<int> LaunchAsync(VmLaunch launch, string vmDir, string? baseImage)
    {
        Directory.CreateDirectory(vmDir);
        // Sockets QEMU serves; an s nic's socket belongs to its relay, which serves it.
        foreach (var stale in new[] { launch.QmpSocket, launch.AgentSocket }.Concat(launch.Nics.Select(n => n.Netdev).OfType<VmNetdev.VhostUserServer>().Select(n => n.Socket)))
        {
            File.Delete(stale);
        }

        if (baseImage is not null && launch.Boot.Disk is { } overlay && !File.Exists(overlay))
        {
            // The base image is never written: each VM boots a copy-on-write overlay of its own.
            var info = await ProcessRunner.RunCheckedAsync("qemu-img", ["info", "--output=json", baseImage], StartTimeout).ConfigureAwait(false);
            var format = System.Text.Json.JsonDocument.Parse(info).RootElement.GetProperty("format").GetString() ?? "raw";
            await ProcessRunner.RunCheckedAsync("qemu-img", ["create", "-q", "-f", "qcow2", "-F", format, "-b", baseImage, overlay], StartTimeout).ConfigureAwait(false);
        }

        var pidFile = VmPaths.Pid(stateDir, launch.Name);
        File.Delete(pidFile);
        await ProcessRunner.RunCheckedAsync(
            "ip",
            ["netns", "exec", switchNamespace, QemuCommandLine.Binary, .. QemuCommandLine.Build(launch), "-daemonize", "-pidfile", pidFile],
            StartTimeout).ConfigureAwait(false);
        var pid = Running(launch.Name) ?? throw new DataPlaneException($"QEMU for {launch.Name} started but its pid file names no live process");
        // QEMU opens its taps but leaves them down (script=no); a port that is down passes nothing.
        var taps = launch.Nics.Select(n => n.Netdev).OfType<VmNetdev.Tap>().Select(t => $"link set {t.Ifname} up").ToList();
        if (taps.Count > 0)
        {
            var up = await ProcessRunner.RunAsync("ip", ["-n", switchNamespace, "-batch", "-"], StartTimeout, stdin: string.Join('\n', taps) + "\n").ConfigureAwait(false);
            if (!up.Ok)
            {
                throw new DataPlaneException($"ip: {up.FirstErrorLine}");
            }
        }

        return pid;
    }

    /// <summary>QEMU renames its process (-name ...,process=cloonix-VM), so a reused pid is not mistaken for it.</summary>
    public bool IsAlive(string vm, int pid) => Processes.IsAlive(pid, QemuCommandLine.ProcessName(vm));

    public async Task StopAsync(string vm, int pid, TimeSpan grace)
    {
        var qmp = VmPaths.Qmp(stateDir, vm);
        try
        {
            await Qmp.ExecuteAsync(qmp, "system_powerdown", TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            var deadline = DateTime.UtcNow + grace;
            while (IsAlive(vm, pid) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }

            if (IsAlive(vm, pid))
            {
                await Qmp.ExecuteAsync(qmp, "quit", TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
        }
        catch (DataPlaneException)
        {
            // QMP unreachable: fall through to the signal.
        }

        await Processes.TerminateAsync(pid, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
    }

    public Task<ProcessResult> ExecAsync(string vm, IReadOnlyList<string> argv, TimeSpan timeout) =>
        GuestAgent.ExecAsync(VmPaths.Agent(stateDir, vm), argv, timeout);

    public void Remove(string vm)
    {
        var dir = VmPaths.Dir(stateDir, vm);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
