using System.Globalization;

namespace CloonixActors.DataPlane.Qemu;

/// <summary>
/// The QEMU backend of one nic, as QEMU sees it; which nic kind asks for which is the host's NicBinding.
/// </summary>
public abstract record VmNetdev
{
    private VmNetdev()
    {
    }

    /// <summary>A tap QEMU opens (and makes anew each launch) by this name.</summary>
    public sealed record Tap(string Ifname) : VmNetdev;

    /// <summary>A vhost-user socket QEMU serves and a switch connects to (OVS-DPDK's dpdkvhostuserclient port).</summary>
    public sealed record VhostUserServer(string Socket) : VmNetdev;

    /// <summary>A vhost-user socket another process serves (the relay); QEMU reconnects when that process restarts.</summary>
    public sealed record VhostUserClient(string Socket) : VmNetdev;
}

/// <summary>One nic as QEMU builds it.</summary>
public sealed record VmNic(int Index, string Mac, VmNetdev Netdev);

/// <summary>What boots: a kernel and initramfs (the tiny image), or a disk (a per-VM overlay over a base image).</summary>
public sealed record VmBoot(string? Kernel, string? Initrd, string? Disk);

public sealed record VmLaunch(
    string Name,
    int RamMb,
    int Cpus,
    VmBoot Boot,
    IReadOnlyList<VmNic> Nics,
    Acceleration Accel,
    string QmpSocket,
    string AgentSocket,
    string ConsoleLog,
    bool VhostNet);

/// <summary>The argument list of qemu-system-x86_64 for one VM; pure, so every flag is tested without QEMU.</summary>
public static class QemuCommandLine
{
    public const string Binary = "qemu-system-x86_64";

    public const string AgentPort = "org.cloonix.agent";

    public static IReadOnlyList<string> Build(VmLaunch vm)
    {
        var ram = vm.RamMb.ToString(CultureInfo.InvariantCulture);
        var a = new List<string>
        {
            "-name", $"{vm.Name},process={ProcessName(vm.Name)}",
            "-nodefaults", "-no-user-config",
            "-display", "none",
            "-m", ram,
            "-smp", vm.Cpus.ToString(CultureInfo.InvariantCulture),
            // vhost-user nics need the guest's memory shared with the switch (a memfd, no hugepages needed).
            "-object", $"memory-backend-memfd,id=mem,size={ram}M,share=on",
            "-numa", "node,memdev=mem",
            "-serial", $"file:{vm.ConsoleLog}",
            "-qmp", $"unix:{vm.QmpSocket},server=on,wait=off",
            "-device", "virtio-rng-pci",
            "-device", "virtio-serial-pci",
            "-chardev", $"socket,id=agent,path={vm.AgentSocket},server=on,wait=off",
            "-device", $"virtserialport,chardev=agent,name={AgentPort}",
        };
        a.AddRange(vm.Accel.Kind == AccelKind.Kvm ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg", "-cpu", "max"]);

        if (vm.Boot.Kernel is { } kernel)
        {
            a.AddRange(["-kernel", kernel, "-initrd", vm.Boot.Initrd!, "-append", $"console=ttyS0 quiet panic=-1 cloonix.name={vm.Name}"]);
        }

        if (vm.Boot.Disk is { } disk)
        {
            a.AddRange(["-drive", $"file={disk},if=virtio,format=qcow2,cache=unsafe"]);
        }

        foreach (var nic in vm.Nics)
        {
            var id = $"n{nic.Index}";
            switch (nic.Netdev)
            {
                case VmNetdev.Tap tap:
                    a.AddRange(["-netdev", $"tap,id={id},ifname={tap.Ifname},script=no,downscript=no,vhost={(vm.VhostNet ? "on" : "off")}"]);
                    a.AddRange(["-device", $"virtio-net-pci,netdev={id},mac={nic.Mac}"]);
                    break;
                case VmNetdev.VhostUserServer served:
                    a.AddRange(["-chardev", $"socket,id=c{nic.Index},path={served.Socket},server=on,wait=off"]);
                    a.AddRange(["-netdev", $"vhost-user,id={id},chardev=c{nic.Index}"]);
                    // QEMU 7.2 under TCG crashes in msix_set_vector_notifiers when a vhost-user nic starts:
                    // vectors=0 makes the device use INTx instead of MSI-X.
                    a.AddRange(["-device", $"virtio-net-pci,netdev={id},mac={nic.Mac}{(vm.Accel.Kind == AccelKind.Tcg ? ",vectors=0" : string.Empty)}"]);
                    break;
                case VmNetdev.VhostUserClient client:
                    a.AddRange(["-chardev", $"socket,id=c{nic.Index},path={client.Socket},reconnect=1"]);
                    a.AddRange(["-netdev", $"vhost-user,id={id},chardev=c{nic.Index}"]);
                    a.AddRange(["-device", $"virtio-net-pci,netdev={id},mac={nic.Mac}{(vm.Accel.Kind == AccelKind.Tcg ? ",vectors=0" : string.Empty)}"]);
                    break;
            }
        }

        return a;
    }

    /// <summary>The process name QEMU takes (the kernel keeps 15 characters of it).</summary>
    public static string ProcessName(string vm) => $"cx-{vm}";

    /// <summary>
    /// A locally administered unicast MAC, stable for a (host, node id, nic): node ids are per host, so 14
    /// bits of a hash of the host's name keep VMs of different hosts apart on a lan that spans them.
    /// </summary>
    public static string Mac(string host, int nodeId, int nic)
    {
        var h = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(host));
        return string.Create(CultureInfo.InvariantCulture, $"{(h[0] & 0xfc) | 0x02:x2}:{h[1]:x2}:{(nodeId >> 16) & 0xff:x2}:{(nodeId >> 8) & 0xff:x2}:{nodeId & 0xff:x2}:{nic & 0xff:x2}");
    }

    /// <summary>A locally administered unicast MAC, stable for a (node id, nic) pair.</summary>
    public static string Mac(int nodeId, int nic) =>
        string.Create(CultureInfo.InvariantCulture, $"02:c1:{(nodeId >> 16) & 0xff:x2}:{(nodeId >> 8) & 0xff:x2}:{nodeId & 0xff:x2}:{nic & 0xff:x2}");
}
