namespace CloonixActors.DataPlane;

/// <summary>Where one VM's files live: STATE_DIR/vms/NAME (sockets, console log, disk overlay).</summary>
public static class VmPaths
{
    public static string Dir(string stateDir, string vm) => Path.Combine(stateDir, "vms", vm);

    public static string Qmp(string stateDir, string vm) => Path.Combine(Dir(stateDir, vm), "qmp.sock");

    public static string Agent(string stateDir, string vm) => Path.Combine(Dir(stateDir, vm), "agent.sock");

    public static string Console(string stateDir, string vm) => Path.Combine(Dir(stateDir, vm), "console.log");

    public static string Overlay(string stateDir, string vm) => Path.Combine(Dir(stateDir, vm), "disk.qcow2");

    public static string Pid(string stateDir, string vm) => Path.Combine(Dir(stateDir, vm), "qemu.pid");

    /// <summary>The vhost-user socket QEMU serves for d nic <paramref name="nic"/>; OVS connects to it.</summary>
    public static string VhostSocket(string stateDir, string vm, int nic) => Path.Combine(Dir(stateDir, vm), $"d{nic}.sock");

    /// <summary>The relay's socket for s nic <paramref name="nic"/> on the VM's side: the relay serves it, QEMU connects.</summary>
    public static string SpyNodeSocket(string stateDir, string vm, int nic) => Path.Combine(Dir(stateDir, vm), $"s{nic}-node.sock");
}
