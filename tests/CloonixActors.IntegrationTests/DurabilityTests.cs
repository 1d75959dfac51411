using Microsoft.Data.Sqlite;

namespace CloonixActors.IntegrationTests;

/// <summary>Crashes: the daemon and Open vSwitch killed with SIGKILL; the journal and reconciliation bring the lab back.</summary>
[Collection("dataplane")]
public sealed class DurabilityTests : IDisposable
{
    private readonly Lab _lab = new Lab().Start();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void After_kill_9_of_cloonixd_the_same_topology_comes_back_and_traffic_passes()
    {
        _lab.TwoContainersOnLan();
        _lab.Ok("add", "cnt", "c3", "--nics", "2");
        _lab.Ok("add", "lan", "lan2");
        _lab.Ok("connect", "c3", "1", "lan2");
        var before = _lab.Ok("ls", "--json");
        var namespaces = _lab.Namespaces().Order().ToList();
        var ports = PortsByBridge();

        _lab.KillDaemon();
        _lab.Start();

        Assert.Equal(before, _lab.Ok("ls", "--json"));
        Assert.Equal(namespaces, _lab.Namespaces().Order().ToList());
        Lab.WaitUntil(() => PortsByBridge().SequenceEqual(ports), TimeSpan.FromSeconds(20), "bridges and ports to match the desired state");
        Assert.Equal(ports, PortsByBridge());
        _lab.WaitForPing("c1", "198.18.0.2");
        Assert.True(_lab.Iperf("c1", "c2", "198.18.0.2") > 10e6);
    }

    [Fact]
    public void Leftovers_the_journal_does_not_hold_are_removed_at_restart()
    {
        _lab.TwoContainersOnLan();
        _lab.KillDaemon();
        // What a crash between two steps could leave: a namespace and a bridge nobody wants.
        Assert.Equal(0, Lab.Run("ip", ["netns", "add", $"cxa-{_lab.Host}.ghost"]).ExitCode);
        _lab.Vsctl("add-br", "cxab999", "--", "set", "bridge", "cxab999", "datapath_type=netdev");

        _lab.Start();

        Lab.WaitUntil(() => !_lab.Namespaces().Contains($"cxa-{_lab.Host}.ghost") && !_lab.Vsctl("list-br").Contains("cxab999"), TimeSpan.FromSeconds(20), "the sweep of leftovers");
        Assert.Equal([$"cxa-{_lab.Host}.c1", $"cxa-{_lab.Host}.c2"], _lab.Namespaces().Order().ToList());
        _lab.WaitForPing("c1", "198.18.0.2");
    }

    [Fact]
    public void After_kill_9_of_ovs_vswitchd_it_is_restarted_and_ports_pass_traffic_again()
    {
        _lab.TwoContainersOnLan();
        Assert.True(_lab.Ping("c1", "198.18.0.2"));
        var old = _lab.OvsPid("ovs-vswitchd")!.Value;

        Assert.Equal(0, Lab.Run("kill", ["-KILL", old.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ExitCode);

        Lab.WaitUntil(() => _lab.OvsPid("ovs-vswitchd") is { } pid && pid != old, TimeSpan.FromSeconds(20), "a new ovs-vswitchd");
        _lab.WaitForPing("c1", "198.18.0.2", TimeSpan.FromSeconds(20));
        using var status = _lab.Json("status");
        var vswitchd = status.RootElement.GetProperty("processes").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "ovs-vswitchd");
        Assert.Equal(1, vswitchd.GetProperty("restarts").GetInt32());
    }

    [Fact]
    public void After_kill_9_of_ovsdb_server_it_is_restarted_and_changes_apply_again()
    {
        _lab.TwoContainersOnLan();
        var old = _lab.OvsPid("ovsdb-server")!.Value;

        Assert.Equal(0, Lab.Run("kill", ["-KILL", old.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ExitCode);

        Lab.WaitUntil(() => _lab.OvsPid("ovsdb-server") is { } pid && pid != old, TimeSpan.FromSeconds(20), "a new ovsdb-server");
        _lab.Ok("add", "lan", "lan2");
        Assert.Contains(_lab.BridgeOf("lan2"), _lab.Vsctl("list-br"));
        _lab.WaitForPing("c1", "198.18.0.2");
    }

    [Fact]
    public void The_desired_topology_is_journaled_in_a_sqlite_file_in_the_state_dir()
    {
        _lab.Ok("add", "lan", "lan1");
        _lab.Ok("add", "cnt", "c1");

        var file = Path.Combine(_lab.StateDir, "journal.db");
        using var db = new SqliteConnection($"Data Source={file};Mode=ReadOnly");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM journal WHERE persistence_id = $id";
        cmd.Parameters.AddWithValue("$id", $"host-{_lab.Host}");
        Assert.Equal(2L, (long)cmd.ExecuteScalar()!);
    }

    private List<string> PortsByBridge() =>
        [.. _lab.Vsctl("list-br").Order().SelectMany(b => _lab.Vsctl("list-ports", b).Order().Select(p => $"{b}:{p}"))];
}
