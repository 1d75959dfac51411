namespace CloonixActors.IntegrationTests;

/// <summary>QEMU VMs under TCG booting the tiny image: the guest agent, v nics on a mixed lan, crash and relaunch.</summary>
[Collection("dataplane")]
public sealed class VmTests : IDisposable
{
    private readonly Lab _lab = new Lab().Start();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void A_vm_boots_the_tiny_image_and_exec_runs_through_its_guest_agent()
    {
        var added = _lab.Ok("add", "vm", "vm1", "--nics", "v,v", "--ram", "256");
        Assert.Contains("guest agent ready", added, StringComparison.Ordinal);

        var uname = _lab.Exec("vm1", "uname", "-s");
        Assert.Equal(0, uname.ExitCode);
        Assert.Equal("Linux", uname.Stdout.Trim());
        Assert.Equal(3, _lab.Exec("vm1", "sh", "-c", "exit 3").ExitCode);
        var quoted = _lab.Exec("vm1", "echo", "a b", "$(reboot)", "'q'");
        Assert.Equal("a b $(reboot) 'q'", quoted.Stdout.Trim());
        // The agent keeps 1 MiB of each stream; the host marks the cut (the reply line is ~1.4 MB of base64).
        var huge = _lab.Exec("vm1", "sh", "-c", "head -c 3000000 /dev/zero; exit 4");
        Assert.Equal(4, huge.ExitCode);
        Assert.Equal(1 << 20, huge.Stdout.Length);
        Assert.Equal("[cloonix: stdout truncated after 1048576 bytes]\n", huge.Stderr);
        var links = _lab.Exec("vm1", "ip", "-o", "link", "show");
        Assert.Contains(": eth0", links.Stdout, StringComparison.Ordinal);
        Assert.Contains(": eth1", links.Stdout, StringComparison.Ordinal);

        using var status = _lab.Json("status");
        Assert.False(string.IsNullOrEmpty(status.RootElement.GetProperty("acceleration").GetString()));
        using var ls = _lab.Json("ls");
        var vm = Assert.Single(ls.RootElement.GetProperty("nodes").EnumerateArray());
        Assert.Equal("vm", vm.GetProperty("kind").GetString());
        Assert.Equal(["v", "v"], vm.GetProperty("nics").EnumerateArray().Select(n => n.GetProperty("kind").GetString()));
    }

    [Fact]
    public void Vms_with_v_nics_and_a_container_on_one_lan_reach_each_other()
    {
        _lab.Ok("add", "lan", "lan1");
        _lab.Ok("add", "vm", "vm1", "--nics", "v");
        _lab.Ok("add", "vm", "vm2", "--nics", "v");
        _lab.Ok("add", "cnt", "c1");
        foreach (var node in new[] { "vm1", "vm2", "c1" })
        {
            _lab.Ok("connect", node, "0", "lan1");
        }

        Address("vm1", "198.18.3.1");
        Address("vm2", "198.18.3.2");
        Address("c1", "198.18.3.3");

        _lab.WaitForPing("vm1", "198.18.3.2");
        _lab.WaitForPing("vm1", "198.18.3.3");
        _lab.WaitForPing("c1", "198.18.3.2");
        Assert.True(_lab.Iperf("vm1", "vm2", "198.18.3.2") > 1e6);
    }

    [Fact]
    public void A_d_nic_a_v_nic_and_a_container_on_one_lan_reach_each_other_and_d_nics_park_off_lan()
    {
        _lab.Ok("add", "vm", "vm1", "--nics", "d");
        _lab.Ok("add", "vm", "vm2", "--nics", "v");
        _lab.Ok("add", "vm", "vm3", "--nics", "d");
        _lab.Ok("add", "cnt", "c1");
        _lab.Ok("add", "lan", "lan1");
        foreach (var node in new[] { "vm1", "vm2", "vm3", "c1" })
        {
            _lab.Ok("connect", node, "0", "lan1");
        }

        Address("vm1", "198.18.6.1");
        Address("vm2", "198.18.6.2");
        Address("vm3", "198.18.6.3");
        Address("c1", "198.18.6.4");
        _lab.WaitForPing("vm1", "198.18.6.3");
        _lab.WaitForPing("vm1", "198.18.6.2");
        _lab.WaitForPing("c1", "198.18.6.1");
        Assert.True(_lab.Iperf("vm1", "vm3", "198.18.6.3") > 1e6);
        var port = _lab.PortOf("vm3", 0);
        Assert.Contains(port, _lab.Vsctl("list-ports", _lab.BridgeOf("lan1")));

        // Off its lan, a d nic waits on the parking bridge, cut off from everything.
        _lab.Ok("disconnect", "vm3", "0");
        Assert.DoesNotContain(port, _lab.Vsctl("list-ports", _lab.BridgeOf("lan1")));
        Assert.False(_lab.Ping("vm1", "198.18.6.3"), "a disconnected d nic still passed traffic");
        _lab.Ok("connect", "vm3", "0", "lan1");
        _lab.WaitForPing("vm1", "198.18.6.3");
    }

    [Fact]
    public void A_killed_qemu_is_relaunched_and_its_vm_passes_traffic_again()
    {
        _lab.Ok("add", "lan", "lan1");
        _lab.Ok("add", "vm", "vm1", "--nics", "v");
        _lab.Ok("add", "cnt", "c1");
        _lab.Ok("connect", "vm1", "0", "lan1");
        _lab.Ok("connect", "c1", "0", "lan1");
        Address("vm1", "198.18.4.1");
        Address("c1", "198.18.4.2");
        _lab.WaitForPing("c1", "198.18.4.1");
        var pidFile = Path.Combine(_lab.StateDir, "vms", "vm1", "qemu.pid");
        var old = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(0, Lab.Run("kill", ["-KILL", old.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ExitCode);

        // The guest rebooted: its agent answers again, and the address (guest state, not topology) is set anew.
        Lab.WaitUntil(() => _lab.Exec("vm1", "true").ExitCode == 0, TimeSpan.FromSeconds(90), "the relaunched guest's agent");
        var fresh = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.NotEqual(old, fresh);
        Address("vm1", "198.18.4.1");
        _lab.WaitForPing("c1", "198.18.4.1");
        Assert.Contains("relaunching", _lab.DaemonLog, StringComparison.Ordinal);
    }

    [Fact]
    public void Deleting_a_vm_stops_its_qemu_and_removes_its_files()
    {
        _lab.Ok("add", "vm", "vm1", "--nics", "v");
        var dir = Path.Combine(_lab.StateDir, "vms", "vm1");
        var pid = int.Parse(File.ReadAllText(Path.Combine(dir, "qemu.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Lab.IsRunning(pid));

        _lab.Ok("del", "vm1");

        Assert.False(Lab.IsRunning(pid), "QEMU outlived its VM");
        Assert.False(Directory.Exists(dir), "the VM's directory outlived it");
    }

    [Fact]
    public void A_vm_on_a_users_disk_writes_only_its_own_overlay()
    {
        var image = Path.Combine(_lab.StateDir, "base.qcow2");
        Assert.Equal(0, Lab.Run("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]).ExitCode);
        var before = File.ReadAllBytes(image);

        var added = _lab.Ok("add", "vm", "disk1", "--nics", "v", "--image", image);

        Assert.Contains("overlay", added, StringComparison.Ordinal);
        var overlay = Path.Combine(_lab.StateDir, "vms", "disk1", "disk.qcow2");
        var info = Lab.Run("qemu-img", ["info", "--output=json", "-U", overlay]);
        Assert.Contains(image, info.Stdout, StringComparison.Ordinal);
        _lab.Ok("del", "disk1");
        Assert.Equal(before, File.ReadAllBytes(image));
        Assert.False(File.Exists(overlay));
    }

    [Fact]
    public void After_kill_9_of_cloonixd_the_running_qemu_is_adopted_not_restarted()
    {
        _lab.Ok("add", "vm", "vm1", "--nics", "v");
        var pidFile = Path.Combine(_lab.StateDir, "vms", "vm1", "qemu.pid");
        var pid = File.ReadAllText(pidFile).Trim();

        _lab.KillDaemon();
        _lab.Start();

        Lab.WaitUntil(() => _lab.Exec("vm1", "true").ExitCode == 0, TimeSpan.FromSeconds(30), "the adopted guest's agent");
        Assert.Equal(pid, File.ReadAllText(pidFile).Trim());
        Assert.Contains("adopted", _lab.DaemonLog, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_build_tiny_is_idempotent_and_leaves_a_bootable_image()
    {
        var built = _lab.Cli(["--timeout", "900", "image", "build", "tiny"]);

        Assert.True(built.ExitCode == 0, built.ToString());
        Assert.True(File.Exists("/var/lib/cloonix/images/tiny/vmlinuz"));
        Assert.True(File.Exists("/var/lib/cloonix/images/tiny/initrd.img"));
    }

    [Fact]
    public void A_host_that_cannot_run_dpdk_refuses_d_nics_and_says_why_but_runs_s_nics()
    {
        using var lab = new Lab("cloonix.dpdk = off").Start();

        var r = lab.Cli("add", "vm", "vm9", "--nics", "d");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot run d nics: OVS-DPDK is switched off", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("d nics unavailable", lab.Ok("status"), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(lab.StateDir, "vms", "vm9")));

        // An s nic needs no DPDK: the relay's lan side is a tap on the plain switch.
        lab.Ok("add", "lan", "lan1");
        lab.Ok("add", "vm", "vm8", "--nics", "s");
        lab.Ok("connect", "vm8", "0", "lan1");
        Assert.Contains(lab.PortOf("vm8", 0), lab.Vsctl("list-ports", lab.BridgeOf("lan1")));
    }

    private void Address(string node, string address)
    {
        var r = _lab.Exec(node, "ip", "addr", "replace", address + "/24", "dev", "eth0");
        Assert.True(r.ExitCode == 0, r.ToString());
    }
}
