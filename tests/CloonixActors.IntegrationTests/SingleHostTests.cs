namespace CloonixActors.IntegrationTests;

/// <summary>One host end to end: real cloonixd, real Open vSwitch, real namespaces, the real client.</summary>
[Collection("dataplane")]
public sealed class SingleHostTests : IDisposable
{
    private readonly Lab _lab = new Lab().Start();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void Two_containers_on_a_lan_pass_ping_and_tcp()
    {
        _lab.TwoContainersOnLan();

        Assert.True(_lab.Ping("c1", "198.18.0.2", 3), "ping c1 -> c2");
        var bps = _lab.Iperf("c1", "c2", "198.18.0.2");
        Assert.True(bps > 10e6, $"iperf3 TCP moved only {bps / 1e6:0.0} Mbit/s");
    }

    [Fact]
    public void Status_reports_host_ovs_persistence_and_membership()
    {
        using var status = _lab.Json("status");
        var root = status.RootElement;
        Assert.Equal(_lab.Host, root.GetProperty("hostName").GetString());
        Assert.Equal(_lab.StateDir, root.GetProperty("stateDir").GetString());
        Assert.Contains("journal.db", root.GetProperty("persistence").GetString(), StringComparison.Ordinal);
        var processes = root.GetProperty("processes").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("pid").GetInt32());
        Assert.Equal(_lab.OvsPid("ovs-vswitchd"), processes["ovs-vswitchd"]);
        Assert.Equal(_lab.OvsPid("ovsdb-server"), processes["ovsdb-server"]);
        var member = Assert.Single(root.GetProperty("members").EnumerateArray());
        Assert.Equal("Up", member.GetProperty("status").GetString());
        Assert.Contains("host", member.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public void Endpoints_can_be_made_and_unmade_at_run_time_in_any_order()
    {
        // The lan exists before its members, and the nic before its lan is chosen.
        _lab.Ok("add", "cnt", "c1", "--nics", "2");
        _lab.Ok("add", "lan", "lan1");
        _lab.Ok("add", "cnt", "c2");
        _lab.Ok("connect", "c2", "0", "lan1");
        _lab.Ok("connect", "c1", "1", "lan1");
        Assert.Equal(0, _lab.Exec("c1", "ip", "addr", "add", "198.18.0.1/24", "dev", "eth1").ExitCode);
        Assert.Equal(0, _lab.Exec("c2", "ip", "addr", "add", "198.18.0.2/24", "dev", "eth0").ExitCode);
        _lab.WaitForPing("c1", "198.18.0.2");
        var bridge = _lab.BridgeOf("lan1");
        var port = _lab.PortOf("c1", 1);
        Assert.Contains(port, _lab.Vsctl("list-ports", bridge));

        _lab.Ok("disconnect", "c1", "1");
        Assert.DoesNotContain(port, _lab.Vsctl("list-ports", bridge));
        Assert.False(_lab.Ping("c1", "198.18.0.2"), "ping passed over a disconnected nic");

        _lab.Ok("connect", "c1", "1", "lan1");
        _lab.WaitForPing("c1", "198.18.0.2");

        // Members go, the lan stays.
        _lab.Ok("del", "c1");
        _lab.Ok("del", "c2");
        using var ls = _lab.Json("ls");
        Assert.Empty(ls.RootElement.GetProperty("nodes").EnumerateArray());
        var lan = Assert.Single(ls.RootElement.GetProperty("lans").EnumerateArray());
        Assert.Empty(lan.GetProperty("members").EnumerateArray());
        Assert.Empty(_lab.Vsctl("list-ports", lan.GetProperty("bridge").GetString()!));
        Assert.Empty(_lab.Namespaces());
    }

    [Fact]
    public void A_lan_with_attached_nics_is_only_deleted_with_force()
    {
        _lab.TwoContainersOnLan();
        var bridge = _lab.BridgeOf("lan1");

        var refused = _lab.Cli("del", "lan1");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--force", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains(bridge, _lab.Vsctl("list-br"));

        _lab.Ok("del", "lan1", "--force");
        Assert.DoesNotContain(bridge, _lab.Vsctl("list-br"));
        using var ls = _lab.Json("ls");
        Assert.Empty(ls.RootElement.GetProperty("lans").EnumerateArray());
        Assert.All(ls.RootElement.GetProperty("nodes").EnumerateArray(), n =>
            Assert.All(n.GetProperty("nics").EnumerateArray(), nic => Assert.Equal(System.Text.Json.JsonValueKind.Null, nic.GetProperty("lan").ValueKind)));
    }

    [Fact]
    public void Exec_returns_the_programs_output_and_exit_code()
    {
        _lab.Ok("add", "cnt", "c1", "--nics", "3");

        var links = _lab.Exec("c1", "ip", "-o", "link", "show");
        Assert.Equal(0, links.ExitCode);
        foreach (var nic in new[] { "lo", "eth0", "eth1", "eth2" })
        {
            Assert.Contains($": {nic}", links.Stdout, StringComparison.Ordinal);
        }

        Assert.Equal(3, _lab.Exec("c1", "sh", "-c", "exit 3").ExitCode);
        var missing = _lab.Exec("c1", "no-such-program");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("no-such-program", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Deploy_creates_a_whole_topology_or_nothing()
    {
        var good = Path.Combine(_lab.StateDir, "good.yaml");
        File.WriteAllText(good, """
            lans: [lan1, lan2]
            nodes:
              - {name: a, kind: cnt, nics: 2, connect: [lan1, lan2]}
              - {name: b, kind: cnt, nics: 1, connect: [lan1]}
              - {name: c, kind: cnt, nics: 1, connect: [lan2]}
            """);
        var bad = Path.Combine(_lab.StateDir, "bad.yaml");
        File.WriteAllText(bad, """
            lans: [lan3]
            nodes:
              - {name: d, kind: cnt, nics: 1, connect: [lan3]}
              - {name: e, kind: cnt, nics: 1, connect: [no-such-lan]}
            """);

        var refused = _lab.Cli("deploy", bad);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("no-such-lan", refused.Stderr, StringComparison.Ordinal);
        using (var ls = _lab.Json("ls"))
        {
            Assert.Empty(ls.RootElement.GetProperty("nodes").EnumerateArray());
            Assert.Empty(ls.RootElement.GetProperty("lans").EnumerateArray());
        }

        Assert.Empty(_lab.Namespaces());

        _lab.Ok("deploy", good);
        Assert.Equal(3, _lab.Namespaces().Count);
        Assert.Equal(0, _lab.Exec("a", "ip", "addr", "add", "198.18.2.1/24", "dev", "eth1").ExitCode);
        Assert.Equal(0, _lab.Exec("c", "ip", "addr", "add", "198.18.2.3/24", "dev", "eth0").ExitCode);
        _lab.WaitForPing("a", "198.18.2.3");
    }

    [Fact]
    public void Purge_removes_every_node_lan_namespace_and_bridge()
    {
        _lab.TwoContainersOnLan();
        _lab.Ok("add", "lan", "lan2");
        Assert.Equal(2, _lab.Namespaces().Count);

        _lab.Ok("purge");

        Assert.Empty(_lab.Namespaces());
        Assert.Empty(_lab.Vsctl("list-br"));
        using var ls = _lab.Json("ls");
        Assert.Empty(ls.RootElement.GetProperty("nodes").EnumerateArray());
        Assert.Empty(ls.RootElement.GetProperty("lans").EnumerateArray());
    }

    [Fact]
    public void Sigterm_stops_the_daemon_cleanly_and_leaves_nothing_running()
    {
        _lab.TwoContainersOnLan();
        var ovs = new[] { _lab.OvsPid("ovs-vswitchd"), _lab.OvsPid("ovsdb-server") };
        Assert.All(ovs, pid => Assert.NotNull(pid));

        Assert.Equal(0, _lab.StopDaemon());

        Assert.Empty(_lab.Namespaces());
        Assert.False(File.Exists(Path.Combine("/run/netns", _lab.SwitchNamespace)), "the switch namespace outlived the daemon");
        Assert.All(ovs, pid => Assert.False(Lab.IsRunning(pid!.Value), $"OVS process {pid} outlived the daemon"));
        Assert.Contains("desired state recovered", _lab.DaemonLog, StringComparison.Ordinal);
    }
}
