using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// Three cloonixd hosts in namespaces on an underlay bridge, one Akka cluster, each with its own Open
/// vSwitch and SQLite journal. Faster failure detection and split-brain decisions than the defaults, so
/// host loss and partitions resolve within seconds.
/// </summary>
public sealed class ThreeHosts : IDisposable
{
    public const int Port = 45300;

    /// <summary>The local PostgreSQL through its unix socket, which every network namespace reaches.</summary>
    public const string SharedJournal = "Host=/var/run/postgresql;Database=cloonix;Username=cloonix;Password=cloonix";

    public const string Hocon = """
        akka.cluster {
          seed-node-timeout = 2s
          retry-unsuccessful-join-after = 2s
          failure-detector {
            heartbeat-interval = 500ms
            acceptable-heartbeat-pause = 2s
          }
          split-brain-resolver.stable-after = 3s
        }
        """;

    public ThreeHosts()
    {
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        // One authority for the three hosts, as one secret: each gets its own certificate from it.
        _authority = Lab.MakeAuthority();
        // One journal shared by the hosts (the coordinator finds its registry wherever it moves), and a
        // cluster id of this fixture's own, so runs and other clusters in the same database never mix.
        var hocon = Hocon + $"\ncloonix.cluster-id = \"it{Guid.NewGuid().ToString("N")[..10]}\"\n";
        Hosts = new TestHosts(3, (_, ns, address) =>
            new Lab(
                hocon: hocon,
                daemonArgs: ["--seed", $"198.18.100.1:{Port}", "--seed", $"198.18.100.2:{Port}", "--persistence", "postgresql", "--connection-string", SharedJournal],
                hostNamespace: ns,
                address: address,
                port: Port).WithSecret(secret).WithCertificatesFrom(_authority).Start());
        try
        {
            foreach (var lab in Labs)
            {
                MultiHost.WaitForLiveHosts(lab, 3);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private readonly string _authority;

    public TestHosts Hosts { get; }

    /// <summary>Starts any host a failed test left stopped, and waits until the coordinator sees all three.</summary>
    public void AllUp()
    {
        foreach (var lab in Labs.Where(l => l.DaemonPid == 0))
        {
            lab.Start();
        }

        MultiHost.WaitForLiveHosts(Labs[0], 3);
    }

    public IReadOnlyList<Lab> Labs => Hosts.Labs;

    public void Dispose()
    {
        Hosts.Dispose();
        Directory.Delete(_authority, recursive: true);
    }
}

/// <summary>Helpers shared by the multi-host tests.</summary>
public static class MultiHost
{
    public static JsonDocument? TryStatus(Lab lab)
    {
        var r = lab.Cli("status", "--json", "--timeout", "10");
        return r.ExitCode == 0 ? JsonDocument.Parse(r.Stdout) : null;
    }

    /// <summary>Hosts the coordinator reports live, as seen through <paramref name="lab"/>.</summary>
    public static IReadOnlyList<string> LiveHosts(Lab lab)
    {
        using var status = TryStatus(lab);
        if (status is null || status.RootElement.GetProperty("hosts").ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return [.. status.RootElement.GetProperty("hosts").EnumerateArray().Where(h => h.GetProperty("state").GetString() == "live").Select(h => h.GetProperty("name").GetString()!)];
    }

    public static void WaitForLiveHosts(Lab lab, int count, TimeSpan? within = null) =>
        Lab.WaitUntil(() => LiveHosts(lab).Count == count, within ?? TimeSpan.FromSeconds(90), $"{lab.Host} to report {count} live hosts");

    /// <summary>The host the coordinator runs on, as `status` through <paramref name="lab"/> says ("" while it moves).</summary>
    public static string CoordinatorHost(Lab lab)
    {
        using var status = TryStatus(lab);
        var text = status?.RootElement.GetProperty("coordinator").GetString() ?? string.Empty;
        return text.Contains(" (akka", StringComparison.Ordinal) ? text[..text.IndexOf(' ', StringComparison.Ordinal)] : string.Empty;
    }

    /// <summary>The VXLAN device of <paramref name="lab"/>'s segment of a lan (from its bridge's id).</summary>
    public static string VxlanOf(Lab lab, string lan)
    {
        using var ls = lab.Json("ls");
        var bridge = ls.RootElement.GetProperty("lans").EnumerateArray()
            .Single(l => l.GetProperty("name").GetString() == lan && l.GetProperty("host").GetString() == lab.Host)
            .GetProperty("bridge").GetString()!;
        return "cxav" + bridge["cxab".Length..];
    }

    /// <summary>The tunnel ends the device floods to (its all-zero fdb entries); empty when the device is absent.</summary>
    public static IReadOnlyList<string> FloodPeers(Lab lab, string device)
    {
        var r = Lab.Run("bridge", ["-n", lab.SwitchNamespace, "fdb", "show", "dev", device]);
        return r.ExitCode != 0
            ? []
            : [.. r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("00:00:00:00:00:00 dst ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Through <paramref name="via"/>: lan {p}x joining {p}v on <paramref name="far"/> and {p}s on
    /// <paramref name="near"/> (198.18.NET.1 and .2), lan {p}y joining {p}1 on near and {p}2 on
    /// <paramref name="other"/> (198.18.NET+1.1 and .2); returns once both lans pass a ping.
    /// </summary>
    public static void TwoLans(Lab via, string p, Lab far, Lab near, Lab other, int net)
    {
        foreach (var (lan, a, aHost, b, bHost, subnet) in new[] { ($"{p}x", $"{p}v", far, $"{p}s", near, net), ($"{p}y", $"{p}1", near, $"{p}2", other, net + 1) })
        {
            via.Ok("add", "lan", lan);
            via.Ok("add", "cnt", a, "--host", aHost.Host);
            via.Ok("add", "cnt", b, "--host", bHost.Host);
            via.Ok("connect", a, "0", lan);
            via.Ok("connect", b, "0", lan);
            Address(via, a, $"198.18.{subnet}.1/24");
            Address(via, b, $"198.18.{subnet}.2/24");
        }

        via.WaitForPing($"{p}s", $"198.18.{net}.1");
        via.WaitForPing($"{p}1", $"198.18.{net + 1}.2");
    }

    public static void Address(Lab lab, string node, string cidr) =>
        Assert.Equal(0, lab.Exec(node, "ip", "addr", "add", cidr, "dev", "eth0").ExitCode);
}

/// <summary>The lan-coordinator on three hosts: cluster-wide names, placement, lans spanning hosts over VXLAN.</summary>
[Collection("dataplane")]
public sealed class MultiHostTests(ThreeHosts cluster, ITestOutputHelper output) : IClassFixture<ThreeHosts>
{
    private Lab H(int i) => cluster.Labs[i - 1];

    [Fact]
    public void Every_host_reports_the_members_the_live_hosts_and_where_the_coordinator_runs()
    {
        using var status = H(3).Json("status");
        var root = status.RootElement;
        var addresses = root.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("address").GetString()).Order().ToList();
        Assert.Equal([.. Enumerable.Range(1, 3).Select(i => $"akka.ssl.tcp://cloonix@198.18.100.{i}:{ThreeHosts.Port}")], addresses);
        Assert.All(root.GetProperty("members").EnumerateArray(), m => Assert.Contains("host", m.GetProperty("roles").EnumerateArray().Select(r => r.GetString())));
        var hosts = root.GetProperty("hosts").EnumerateArray().ToList();
        Assert.Equal(cluster.Labs.Select(l => l.Host).Order(StringComparer.Ordinal), hosts.Select(h => h.GetProperty("name").GetString()));
        Assert.All(hosts, h => Assert.Equal("live", h.GetProperty("state").GetString()));
        Assert.Contains(MultiHost.CoordinatorHost(H(3)), cluster.Labs.Select(l => l.Host));
        Assert.Equal(MultiHost.CoordinatorHost(H(1)), MultiHost.CoordinatorHost(H(2)));

        var table = H(2).Ok("status");
        Assert.Contains("coordinator  ", table, StringComparison.Ordinal);
        Assert.Contains("ROLES", table, StringComparison.Ordinal);
        Assert.Contains("198.18.100.3", table, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_are_unique_across_hosts_and_placement_follows_host_or_load()
    {
        H(1).Ok("add", "cnt", "u1", "--host", H(2).Host);
        var again = H(3).Cli("add", "cnt", "u1", "--host", H(3).Host);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already used", again.Stderr, StringComparison.Ordinal);
        var lanClash = H(3).Cli("add", "lan", "u1");
        Assert.Equal(1, lanClash.ExitCode);
        var unknown = H(1).Cli("add", "cnt", "u2", "--host", "nosuchhost");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("not a live member", unknown.Stderr, StringComparison.Ordinal);
        var bad = H(1).Cli("add", "cnt", "u2", "--host", "Bad;host");
        Assert.Equal(1, bad.ExitCode);

        // Automatic placement: the least loaded hosts first, each new node to one with the fewest.
        var before = NodesPerHost();
        H(2).Ok("add", "cnt", "u3");
        H(3).Ok("add", "cnt", "u4");
        var after = NodesPerHost();
        Assert.True(after.Values.Max() - after.Values.Min() <= Math.Max(1, before.Values.Max() - before.Values.Min()), $"placement unbalanced: {string.Join(", ", after)}");

        // Any host answers for any node.
        Assert.Equal(H(2).Host, HostOf(H(3), "u1"));
        var exec = H(3).Exec("u1", "true");
        Assert.True(exec.ExitCode == 0, exec.ToString());
        H(3).Ok("del", "u1");
        H(1).Ok("del", "u3");
        H(2).Ok("del", "u4");
        Assert.DoesNotContain("u1", Nodes(H(1)));
    }

    [Fact]
    public void Containers_on_two_hosts_talk_over_a_vxlan_lan_with_the_inner_mtu_and_a_plain_linux_vxlan_device_joins()
    {
        H(1).Ok("add", "lan", "span1");
        H(3).Ok("add", "cnt", "sa", "--host", H(1).Host);
        H(3).Ok("add", "cnt", "sb", "--host", H(2).Host);
        H(2).Ok("connect", "sa", "0", "span1");
        H(2).Ok("connect", "sb", "0", "span1");
        MultiHost.Address(H(1), "sa", "198.18.10.1/24");
        MultiHost.Address(H(1), "sb", "198.18.10.2/24");

        H(1).WaitForPing("sa", "198.18.10.2");
        H(2).WaitForPing("sb", "198.18.10.1");

        // One segment per host, one VXLAN id, the inner MTU (underlay 1500 - 50) on the lan and the nics.
        using (var ls = H(3).Json("ls"))
        {
            var segments = ls.RootElement.GetProperty("lans").EnumerateArray().Where(l => l.GetProperty("name").GetString() == "span1").ToList();
            Assert.Equal(new[] { H(1).Host, H(2).Host }.Order(StringComparer.Ordinal), segments.Select(s => s.GetProperty("host").GetString()!).Order(StringComparer.Ordinal));
            Assert.Single(segments.Select(s => s.GetProperty("vni").GetInt32()).Distinct());
            Assert.All(segments, s => Assert.Equal(1450, s.GetProperty("mtu").GetInt32()));
            var sa = ls.RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("name").GetString() == "sa");
            Assert.Equal(H(1).Host, sa.GetProperty("host").GetString());
        }

        Assert.Equal("1450", H(1).Exec("sa", "cat", "/sys/class/net/eth0/mtu").Stdout.Trim());
        Assert.Contains("VNI", H(1).Ok("ls"), StringComparison.Ordinal);
        var devices = new[] { MultiHost.VxlanOf(H(1), "span1"), MultiHost.VxlanOf(H(2), "span1") };
        Assert.Equal(["198.18.100.2"], MultiHost.FloodPeers(H(1), devices[0]));
        Assert.Equal(["198.18.100.1"], MultiHost.FloodPeers(H(2), devices[1]));

        var bps = H(1).Iperf("sa", "sb", "198.18.10.2", seconds: 2);
        output.WriteLine($"iperf3 across hosts over VXLAN: {bps / 1e9:0.00} Gbit/s");
        Assert.True(bps > 50e6, $"cross-host throughput {bps / 1e6:0} Mbit/s");

        // A plain Linux VXLAN device on another machine of the underlay, listing the two hosts, joins the lan.
        int vni;
        using (var ls = H(1).Json("ls"))
        {
            vni = ls.RootElement.GetProperty("lans").EnumerateArray().First(l => l.GetProperty("name").GetString() == "span1").GetProperty("vni").GetInt32();
        }

        var plain = cluster.Hosts.AddPlainHost(9);
        void Ip(params string[] args) => Assert.Equal(0, Lab.Run("ip", ["-n", plain, .. args]).ExitCode);
        Assert.Equal(0, Lab.Run("ip", ["netns", "exec", plain, "ip", "link", "add", "vx0", "type", "vxlan", "id", vni.ToString(CultureInfo.InvariantCulture), "dstport", "4789", "local", "198.18.100.9"]).ExitCode);
        foreach (var peer in new[] { "198.18.100.1", "198.18.100.2" })
        {
            Assert.Equal(0, Lab.Run("bridge", ["-n", plain, "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", peer]).ExitCode);
        }

        Ip("link", "set", "vx0", "mtu", "1450", "up");
        Ip("addr", "add", "198.18.10.9/24", "dev", "vx0");
        Lab.WaitUntil(() => Lab.Run("ip", ["netns", "exec", plain, "ping", "-c", "1", "-W", "1", "198.18.10.1"]).ExitCode == 0, TimeSpan.FromSeconds(20), "the plain vxlan device to reach sa");
        var ping = Lab.Run("ip", ["netns", "exec", plain, "ping", "-c", "3", "-i", "0.2", "-W", "1", "198.18.10.2"]);
        Assert.True(ping.ExitCode == 0, ping.ToString());
        Assert.Contains("3 received", ping.Stdout, StringComparison.Ordinal);
        var counters = Lab.Run("ip", ["-n", plain, "-s", "-o", "link", "show", "vx0"]).Stdout;
        output.WriteLine($"plain vxlan device: {counters}");

        H(2).Ok("del", "sa");
        H(2).Ok("del", "sb");
        H(2).Ok("del", "span1");
        Lab.WaitUntil(() => Lab.Run("ip", ["-n", H(1).SwitchNamespace, "link", "show", "dev", devices[0]]).ExitCode != 0 && Lab.Run("ip", ["-n", H(2).SwitchNamespace, "link", "show", "dev", devices[1]]).ExitCode != 0, TimeSpan.FromSeconds(30), "vxlan devices to go with the lan");
    }

    [Fact]
    public void Vms_on_two_hosts_talk_over_a_vxlan_lan()
    {
        H(1).Ok("add", "lan", "vmspan");
        H(3).Ok("add", "vm", "va", "--nics", "v", "--host", H(1).Host);
        H(3).Ok("add", "vm", "vb", "--nics", "v", "--host", H(2).Host);
        H(2).Ok("connect", "va", "0", "vmspan");
        H(2).Ok("connect", "vb", "0", "vmspan");
        foreach (var (vm, address) in new[] { ("va", "198.18.12.1/24"), ("vb", "198.18.12.2/24") })
        {
            // The guest learns no MTU from a tap: it takes the lan's inner MTU by hand, as on a real network.
            Assert.Equal(0, H(1).Exec(vm, "ip", "link", "set", "eth0", "mtu", "1450").ExitCode);
            MultiHost.Address(H(1), vm, address);
        }

        try
        {
            H(3).WaitForPing("va", "198.18.12.2", TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            output.WriteLine(H(1).Ok("ls"));
            foreach (var vm in new[] { "va", "vb" })
            {
                output.WriteLine(H(1).Exec(vm, "ip", "addr").ToString());
                output.WriteLine(H(1).Exec(vm, "cat", "/sys/class/net/eth0/statistics/rx_packets", "/sys/class/net/eth0/statistics/tx_packets").ToString());
            }

            foreach (var lab in cluster.Labs)
            {
                output.WriteLine(Lab.Run("ip", ["-n", lab.SwitchNamespace, "-br", "link"]).Stdout);
            }

            throw;
        }
        var bps = H(1).Iperf("vb", "va", "198.18.12.1", seconds: 2);
        output.WriteLine($"iperf3 VM to VM across hosts over VXLAN: {bps / 1e9:0.00} Gbit/s");
        Assert.True(bps > 10e6, $"cross-host VM throughput {bps / 1e6:0} Mbit/s");

        H(2).Ok("del", "va");
        H(2).Ok("del", "vb");
        H(2).Ok("del", "vmspan");
    }

    [Fact]
    public void An_s_nic_on_one_host_is_captured_counted_and_impaired_through_another()
    {
        H(1).Ok("add", "lan", "spy1");
        H(1).Ok("add", "cnt", "pa", "--host", H(1).Host);
        H(1).Ok("add", "cnt", "pb", "--nics", "s", "--host", H(2).Host);
        H(1).Ok("connect", "pa", "0", "spy1");
        H(1).Ok("connect", "pb", "0", "spy1");
        MultiHost.Address(H(1), "pa", "198.18.11.1/24");
        MultiHost.Address(H(1), "pb", "198.18.11.2/24");
        H(1).WaitForPing("pa", "198.18.11.2");
        Assert.Equal("1450", H(1).Exec("pb", "cat", "/sys/class/net/eth0/mtu").Stdout.Trim());
        Assert.True(H(1).Iperf("pa", "pb", "198.18.11.2", seconds: 2) > 20e6);

        // The relay runs on host 2; the client talks to host 3, which passes the pcap stream back.
        var dir = Directory.CreateTempSubdirectory("cloonix-mh-spy-").FullName;
        try
        {
            var pcap = Path.Combine(dir, "pb.pcap");
            using var spy = H(3).StartCli(Path.Combine(dir, "spy.out"), "spy", "pb", "0", "--pcap", pcap);
            spy.WaitForStderr("capturing");
            Assert.True(H(1).Ping("pa", "198.18.11.2", count: 3));
            Assert.Equal(0, spy.Stop());
            var icmp = Lab.Run("tshark", ["-r", pcap, "-Y", "icmp"]);
            Assert.True(icmp.ExitCode == 0 && icmp.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 6, icmp.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        // Counters from any host; impairment through any host.
        var events = H(1).Cli("events", "--count", "1", "--json");
        Assert.True(events.ExitCode == 0 && events.Stdout.Contains($"\"host\":\"{H(2).Host}\"", StringComparison.Ordinal), events.ToString());
        H(3).Ok("impair", "pb", "0", "--delay", "30", "--dir", "in");
        var r = H(1).Exec("pa", "ping", "-c", "3", "-i", "0.2", "198.18.11.2");
        var avg = double.Parse(r.Stdout.Split('\n').Single(l => l.Contains("min/avg/max", StringComparison.Ordinal)).Split('=')[1].Trim().Split('/')[1], CultureInfo.InvariantCulture);
        Assert.True(avg > 29, $"RTT {avg} ms with 30 ms of delay on the far host");

        H(2).Ok("del", "pa");
        H(2).Ok("del", "pb");
        H(2).Ok("del", "spy1");
    }

    [Fact]
    public void A_topology_file_is_spread_over_the_hosts_and_purge_empties_them_all()
    {
        var file = Path.Combine(H(1).StateDir, "spread.yaml");
        File.WriteAllText(file, """
            lans: [dl1, dl2]
            nodes:
              - {name: d1, kind: cnt, nics: 2, connect: [dl1, dl2]}
              - {name: d2, kind: cnt, nics: 1, connect: [dl1]}
              - {name: d3, kind: cnt, nics: 1, connect: [dl2]}
            """);
        var before = NodesPerHost();
        H(1).Ok("deploy", file);
        var hosts = new[] { "d1", "d2", "d3" }.Select(n => HostOf(H(2), n)).Distinct().ToList();
        Assert.True(hosts.Count >= 2 || before.Values.Distinct().Count() > 1, $"three nodes on one host: {string.Join(", ", hosts)}");
        MultiHost.Address(H(1), "d1", "198.18.11.1/24");
        MultiHost.Address(H(1), "d2", "198.18.11.2/24");
        H(1).WaitForPing("d2", "198.18.11.1");

        // A refused topology changes nothing anywhere.
        File.WriteAllText(file, """
            lans: [dl3]
            nodes:
              - {name: d4, kind: cnt, nics: 1, connect: [dl3]}
              - {name: d1, kind: cnt, nics: 1}
            """);
        Assert.Equal(1, H(3).Cli("deploy", file).ExitCode);
        Assert.DoesNotContain("d4", Nodes(H(2)));

        var purged = H(2).Ok("purge");
        output.WriteLine(purged);
        Assert.Empty(Nodes(H(1)));
        using var ls = H(3).Json("ls");
        Assert.Empty(ls.RootElement.GetProperty("lans").EnumerateArray());
    }

    private static List<string> Nodes(Lab lab)
    {
        using var ls = lab.Json("ls");
        return [.. ls.RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("name").GetString()!)];
    }

    private static string HostOf(Lab lab, string node)
    {
        using var ls = lab.Json("ls");
        return ls.RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("name").GetString() == node).GetProperty("host").GetString()!;
    }

    private Dictionary<string, int> NodesPerHost()
    {
        using var status = H(1).Json("status");
        return status.RootElement.GetProperty("hosts").EnumerateArray().ToDictionary(h => h.GetProperty("name").GetString()!, h => h.GetProperty("nodes").GetInt32());
    }
}

/// <summary>Faults on three hosts: a daemon killed and restarted, a host cut off the underlay and healed.</summary>
[Collection("dataplane")]
public sealed class HostLossTests(ThreeHosts cluster, ITestOutputHelper output) : IClassFixture<ThreeHosts>
{
    [Fact]
    public async Task Killing_the_coordinators_host_moves_the_coordinator_keeps_other_lans_up_and_its_return_rebuilds_tunnels()
    {
        cluster.AllUp();
        var labs = cluster.Labs;
        var coordinator = MultiHost.CoordinatorHost(labs[0]);
        var victim = labs.Single(l => l.Host == coordinator);
        var (s1, s2) = (labs.First(l => l != victim), labs.Last(l => l != victim));

        // lan kx spans the victim (kv) and s1 (ks); lan ky spans the two survivors (k1, k2).
        MultiHost.TwoLans(s1, "k", victim, s1, s2, 20);
        var kxOnS1 = MultiHost.VxlanOf(s1, "kx");
        Assert.Contains(victim.Address, MultiHost.FloodPeers(s1, kxOnS1));

        // The data plane of lan ky, watched from inside k1 (not through the control plane) while the cluster sorts itself out.
        var watch = Task.Run(() => Lab.Run("ip", ["netns", "exec", $"cxa-{s1.Host}.k1", "ping", "-i", "0.2", "-w", "20", "-W", "1", "198.18.21.2"]));
        victim.KillDaemon();
        var clock = Stopwatch.StartNew();
        Lab.WaitUntil(
            () =>
            {
                var now = MultiHost.CoordinatorHost(s2);
                return now.Length > 0 && now != victim.Host;
            },
            TimeSpan.FromSeconds(60),
            "the coordinator to move to a survivor");
        var moved = clock.Elapsed;
        Lab.WaitUntil(() => !MultiHost.FloodPeers(s1, kxOnS1).Contains(victim.Address), TimeSpan.FromSeconds(30), "the tunnel to the lost host to go");
        var tunnelGone = clock.Elapsed;
        var pinged = await watch;
        var summary = pinged.Stdout.Split('\n').FirstOrDefault(l => l.Contains("packets transmitted", StringComparison.Ordinal)) ?? pinged.ToString();
        output.WriteLine($"coordinator moved {moved.TotalSeconds:0.0} s after kill -9 of its host; tunnel to the lost host removed after {tunnelGone.TotalSeconds:0.0} s; lan ky between the survivors meanwhile: {summary}");
        Assert.Contains(" 0% packet loss", summary, StringComparison.Ordinal);

        // The majority keeps working: placement skips the lost host.
        s2.Ok("add", "cnt", "k3");
        Assert.NotEqual(victim.Host, HostOfNode(s1, "k3"));
        Assert.True(s2.Ping("k2", "198.18.21.1"));
        var refused = s1.Cli("del", "kv");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("not reachable", refused.Stderr, StringComparison.Ordinal);

        // The host returns: its node comes back from its journal, and its tunnels are rebuilt.
        clock.Restart();
        victim.Start();
        MultiHost.WaitForLiveHosts(s1, 3);
        Lab.WaitUntil(() => MultiHost.FloodPeers(s1, kxOnS1).Contains(victim.Address), TimeSpan.FromSeconds(30), "the tunnel to the returned host");
        victim.WaitForPing("kv", "198.18.20.2");
        output.WriteLine($"host back: live and cross-host ping after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(victim.Host, HostOfNode(s2, "kv"));

        s1.Ok("purge");
    }

    [Fact]
    public void A_host_cut_off_the_underlay_is_downed_the_majority_works_and_after_healing_it_rejoins()
    {
        cluster.AllUp();
        var labs = cluster.Labs;
        var coordinator = MultiHost.CoordinatorHost(labs[0]);
        var cutIndex = Enumerable.Range(0, 3).First(i => labs[i].Host != coordinator);
        var cut = labs[cutIndex];
        var (m1, m2) = (labs.First(l => l != cut), labs.Last(l => l != cut));

        // lan px spans the cut host (pv) and m1 (ps); lan py spans the majority (p1, p2).
        MultiHost.TwoLans(m1, "p", cut, m1, m2, 30);

        cluster.Hosts.Cut(cutIndex + 1);
        var clock = Stopwatch.StartNew();
        try
        {
            // The majority downs the cut host and carries on.
            Lab.WaitUntil(() => !Members(m1).Contains(cut.Address), TimeSpan.FromSeconds(60), "the majority to remove the cut host");
            output.WriteLine($"cut host removed by the majority after {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.True(m1.Ping("p1", "198.18.31.2"));
            m2.Ok("add", "cnt", "p3");
            Assert.NotEqual(cut.Host, HostOfNode(m1, "p3"));

            // The minority downed itself: its daemon starts a new ActorSystem that waits to rejoin, its data plane intact.
            Lab.WaitUntil(() => cut.DaemonLog.Contains("this host was downed by the cluster", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the cut host to be downed");
            Assert.Contains($"cxa-{cut.Host}.pv", cut.Namespaces());
        }
        finally
        {
            cluster.Hosts.Heal(cutIndex + 1);
        }

        clock.Restart();
        MultiHost.WaitForLiveHosts(m1, 3, TimeSpan.FromSeconds(120));
        m1.WaitForPing("ps", "198.18.30.1");
        output.WriteLine($"healed: the cut host rejoined and its lan passes traffic after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(cut.Host, HostOfNode(m2, "pv"));

        // Nothing left behind on any host once the lab is purged: no container namespace, no VXLAN device.
        m1.Ok("purge");
        foreach (var lab in labs)
        {
            Assert.Empty(lab.Namespaces());
            Assert.Equal(string.Empty, Lab.Run("ip", ["-n", lab.SwitchNamespace, "-o", "link", "show", "type", "vxlan"]).Stdout.Trim());
        }
    }

    private static List<string> Members(Lab lab)
    {
        using var status = MultiHost.TryStatus(lab);
        return status is null
            ? [lab.Address]
            : [.. status.RootElement.GetProperty("members").EnumerateArray().Where(m => m.GetProperty("status").GetString() is "Up" or "Joining" or "WeaklyUp").Select(m => new Uri(m.GetProperty("address").GetString()!.Replace("akka.ssl.tcp", "http", StringComparison.Ordinal)).Host)];
    }

    private static string HostOfNode(Lab lab, string node)
    {
        using var ls = lab.Json("ls");
        return ls.RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("name").GetString() == node).GetProperty("host").GetString()!;
    }
}
