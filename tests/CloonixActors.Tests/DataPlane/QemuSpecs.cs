using System.Text;
using CloonixActors.DataPlane.Qemu;

namespace CloonixActors.Tests.DataPlane;

public sealed class QemuSpecs
{
    private static VmLaunch Launch(Acceleration accel, VmBoot boot, params VmNic[] nics) =>
        new("vm1", 256, 2, boot, nics, accel, "/s/qmp.sock", "/s/agent.sock", "/s/console.log", VhostNet: false);

    private static readonly VmBoot Tiny = new("/img/vmlinuz", "/img/initrd.img", null);
    private static readonly Acceleration Tcg = new(AccelKind.Tcg, "test");
    private static readonly Acceleration Kvm = new(AccelKind.Kvm, "test");

    private static string Joined(VmLaunch l) => string.Join(' ', QemuCommandLine.Build(l));

    [Fact]
    public void A_d_nic_is_a_vhost_user_socket_qemu_serves_with_shared_memory_and_intx_under_tcg()
    {
        var args = QemuCommandLine.Build(Launch(Tcg, Tiny, new VmNic(0, "02:c1:00:00:01:00", new VmNetdev.VhostUserServer("/s/d0.sock"))));

        Assert.Contains("socket,id=c0,path=/s/d0.sock,server=on,wait=off", args);
        Assert.Contains("vhost-user,id=n0,chardev=c0", args);
        Assert.Contains("virtio-net-pci,netdev=n0,mac=02:c1:00:00:01:00,vectors=0", args);
        Assert.Contains("memory-backend-memfd,id=mem,size=256M,share=on", args);
        Assert.Equal("tcg", args[args.ToList().IndexOf("-accel") + 1]);
    }

    [Fact]
    public void Under_kvm_a_d_nic_keeps_msi_x()
    {
        var args = QemuCommandLine.Build(Launch(Kvm, Tiny, new VmNic(0, "02:c1:00:00:01:00", new VmNetdev.VhostUserServer("/s/d0.sock"))));

        Assert.Contains("virtio-net-pci,netdev=n0,mac=02:c1:00:00:01:00", args);
        Assert.Equal("host", args[args.ToList().IndexOf("-cpu") + 1]);
    }

    [Theory]
    [InlineData(false, "vhost=off")]
    [InlineData(true, "vhost=on")]
    public void A_v_nic_is_a_named_tap_without_scripts(bool vhostNet, string vhost)
    {
        var launch = Launch(Tcg, Tiny, new VmNic(1, "02:c1:00:00:01:01", new VmNetdev.Tap("cxa1t1"))) with { VhostNet = vhostNet };

        Assert.Contains($"tap,id=n1,ifname=cxa1t1,script=no,downscript=no,{vhost}", QemuCommandLine.Build(launch));
    }

    [Fact]
    public void The_tiny_image_boots_its_kernel_with_the_vm_name_and_a_disk_boots_its_overlay()
    {
        var tiny = Joined(Launch(Tcg, Tiny));
        Assert.Contains("-kernel /img/vmlinuz -initrd /img/initrd.img", tiny, StringComparison.Ordinal);
        Assert.Contains("cloonix.name=vm1", tiny, StringComparison.Ordinal);
        Assert.DoesNotContain("-drive", tiny, StringComparison.Ordinal);

        var disk = Joined(Launch(Tcg, new VmBoot(null, null, "/s/disk.qcow2")));
        Assert.Contains("-drive file=/s/disk.qcow2,if=virtio,format=qcow2", disk, StringComparison.Ordinal);
        Assert.DoesNotContain("-kernel", disk, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_vm_has_qmp_a_console_log_and_the_agent_port()
    {
        var args = Joined(Launch(Tcg, Tiny));

        Assert.Contains("-qmp unix:/s/qmp.sock,server=on,wait=off", args, StringComparison.Ordinal);
        Assert.Contains("-serial file:/s/console.log", args, StringComparison.Ordinal);
        Assert.Contains($"virtserialport,chardev=agent,name={QemuCommandLine.AgentPort}", args, StringComparison.Ordinal);
        Assert.Contains("-nodefaults", args, StringComparison.Ordinal);
    }

    [Fact]
    public void Macs_are_locally_administered_unicast_and_distinct_per_node_and_nic()
    {
        var macs = Enumerable.Range(1, 300).SelectMany(id => Enumerable.Range(0, 32).Select(nic => QemuCommandLine.Mac(id, nic))).ToList();

        Assert.Equal(macs.Count, macs.Distinct(StringComparer.Ordinal).Count());
        Assert.All(macs, m => Assert.StartsWith("02:", m, StringComparison.Ordinal));
    }

    [Fact]
    public void Agent_requests_carry_every_argument_base64_encoded_so_no_shell_sees_it()
    {
        var argv = new[] { "echo", "a b", "$(reboot)", "'q'", "é" };

        var line = GuestAgent.Request(7, argv, TimeSpan.FromSeconds(5));

        var fields = line.TrimEnd('\n').Split(' ');
        Assert.Equal(["REQ", "7", "5"], fields[..3]);
        Assert.Equal(argv, fields[3..].Select(f => Encoding.UTF8.GetString(Convert.FromBase64String(f))));
    }

    [Fact]
    public void Agent_responses_are_matched_by_id_and_decoded()
    {
        var ok = $"RES 9 3 {Convert.ToBase64String(Encoding.UTF8.GetBytes("out\n"))} {Convert.ToBase64String(Encoding.UTF8.GetBytes("err"))}";

        var result = GuestAgent.ParseResponse(ok, 9);

        Assert.NotNull(result);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("out\n", result.Stdout);
        Assert.Equal("err", result.Stderr);
        Assert.Null(GuestAgent.ParseResponse(ok, 8));
        Assert.Null(GuestAgent.ParseResponse("HELLO 6.1.0", 9));
        Assert.Equal(string.Empty, GuestAgent.ParseResponse("RES 9 0  ", 9)!.Stdout);
        Assert.True(GuestAgent.ParseResponse("RES 9 124  ", 9)!.TimedOut);
    }

    [Fact]
    public void Vms_with_the_same_node_id_on_different_hosts_get_different_macs_that_stay_unicast_and_local()
    {
        var a = QemuCommandLine.Mac("host1", 1, 0);
        var b = QemuCommandLine.Mac("host2", 1, 0);

        Assert.NotEqual(a, b);
        Assert.Equal(a, QemuCommandLine.Mac("host1", 1, 0));
        foreach (var mac in new[] { a, b })
        {
            var first = Convert.ToByte(mac[..2], 16);
            Assert.Equal(0x02, first & 0x03);
            Assert.EndsWith(":00:00:01:00", mac, StringComparison.Ordinal);
        }
    }
}
