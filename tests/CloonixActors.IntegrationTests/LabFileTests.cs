using System.Text.Json;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// The topology file as the whole lab, on one host: VMs (TCG, the tiny image) and containers with s, d and
/// v nics and impairments, deployed from a file, saved, purged, deployed again from the saved file, and
/// listed the same; deploying twice changes nothing; a conflict changes nothing; destroy removes only
/// what the file names.
/// </summary>
[Collection("dataplane")]
public sealed class LabFileTests : IDisposable
{
    private const string File1 = """
        version: 1
        lans: [lan1, lan2, {name: spare}]
        nodes:
          - name: vm1
            kind: vm
            ram: 128
            nics:
              - {kind: d, lan: lan1}
              - {kind: s, lan: lan2, impair: {dir: both, delay: 5, jitter: 1}}
          - name: vm2
            kind: vm
            ram: 128
            nics: [{kind: v, lan: lan1}]
          - name: c1
            kind: cnt
            nics:
              - {kind: v, lan: lan1}
              - {kind: s, lan: lan2, impair: [{dir: in, loss: 1}, {dir: out, rate: 50}]}
          - {name: c2, nics: 1, connect: [lan2]}
        """;

    private readonly Lab _lab = new Lab().Start();
    private readonly string _dir = Directory.CreateTempSubdirectory("cloonix-labfile-").FullName;

    public void Dispose()
    {
        _lab.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private List<string> DesiredState() => DesiredState(_lab);

    /// <summary>
    /// The desired-state fields of `ls --json` through <paramref name="lab"/>, one line per node and lan
    /// segment (of the names <paramref name="keep"/> accepts); ids, ports, bridges and VNIs left out.
    /// </summary>
    public static List<string> DesiredState(Lab lab, Func<string, bool>? keep = null)
    {
        keep ??= _ => true;
        using var ls = lab.Json("ls");
        var nodes = ls.RootElement.GetProperty("nodes").EnumerateArray().Where(n => keep(n.GetProperty("name").GetString()!)).Select(n =>
            $"node {n.GetProperty("name")} {n.GetProperty("kind")} {n.GetProperty("host")} ram {n.GetProperty("ramMb")} cpus {n.GetProperty("cpus")} image {n.GetProperty("image")} nics " +
            string.Join(" ", n.GetProperty("nics").EnumerateArray().Select(x => $"[{x.GetProperty("index")} {x.GetProperty("kind")} {x.GetProperty("lan")} {JsonSerializer.Serialize(x.GetProperty("impairIn"))} {JsonSerializer.Serialize(x.GetProperty("impairOut"))}]")));
        var lans = ls.RootElement.GetProperty("lans").EnumerateArray().Where(l => keep(l.GetProperty("name").GetString()!)).Select(l =>
            $"lan {l.GetProperty("name")} {l.GetProperty("host")} mtu {l.GetProperty("mtu")} members {string.Join(",", l.GetProperty("members").EnumerateArray().Select(m => m.GetString()))}");
        return [.. nodes, .. lans];
    }

    private void WaitForGuests()
    {
        foreach (var vm in new[] { "vm1", "vm2" })
        {
            Lab.WaitUntil(() => _lab.Exec(vm, "true").ExitCode == 0, TimeSpan.FromSeconds(180), $"{vm}'s guest agent");
        }
    }

    [Fact]
    public void A_saved_lab_deploys_again_to_the_same_listing_twice_changes_nothing_and_destroy_removes_only_the_file_s_part()
    {
        var file = Write("lab.yaml", File1);
        var dry = _lab.Ok("deploy", file, "--dry-run");
        Assert.Contains("add vm with nics d,s, ram 128 MB, cpus 1, image tiny: vm1", dry, StringComparison.Ordinal);
        Assert.Contains("impair c1 1 in: loss 1 %", dry, StringComparison.Ordinal);
        using (var empty = _lab.Json("ls"))
        {
            Assert.Equal(0, empty.RootElement.GetProperty("nodes").GetArrayLength());
        }

        _lab.Ok("deploy", file);
        WaitForGuests();
        var deployed = DesiredState();
        Assert.Contains(deployed, l => l.StartsWith("node vm1 vm ", StringComparison.Ordinal) && l.Contains("[0 d lan1", StringComparison.Ordinal) && l.Contains("[1 s lan2 {\"delayMs\":5,\"jitterMs\":1", StringComparison.Ordinal));
        Assert.Contains(deployed, l => l.StartsWith("node c1 cnt ", StringComparison.Ordinal) && l.Contains("[0 veth lan1", StringComparison.Ordinal) && l.Contains("\"lossPercent\":1", StringComparison.Ordinal) && l.Contains("\"rateMbit\":50", StringComparison.Ordinal));
        Assert.Contains(deployed, l => l.StartsWith("lan spare ", StringComparison.Ordinal));

        // Twice: nothing to change, and nothing changes.
        Assert.Contains("nothing to change", _lab.Ok("deploy", file), StringComparison.Ordinal);
        Assert.Equal("nothing to change", _lab.Ok("deploy", file, "--dry-run").Trim());
        Assert.Equal(deployed, DesiredState());

        // A lab that lacks part of the file gets only that part.
        _lab.Ok("del", "c2");
        Assert.Equal(["add cnt with nics v: c2", "connect c2 0 lan2"], _lab.Ok("deploy", file, "--dry-run").Trim().Split('\n'));
        _lab.Ok("deploy", file);
        Assert.Equal(deployed, DesiredState());

        // A conflict (c1 as a vm) is one error, and nothing changes.
        var conflict = _lab.Cli("deploy", Write("conflict.yaml", "lans: [lan9]\nnodes:\n  - {name: c1, kind: vm, nics: [v]}\n"));
        Assert.Equal(1, conflict.ExitCode);
        Assert.Contains("node 'c1' differs: the file has a vm with nics v", conflict.Stderr, StringComparison.Ordinal);
        Assert.Equal(deployed, DesiredState());

        // Save, purge, deploy the saved file: the same lab.
        var saved = Path.Combine(_dir, "saved.yaml");
        _lab.Ok("save", saved);
        Assert.Equal(File.ReadAllText(saved), _lab.Ok("save", "-"));
        _lab.Ok("purge");
        Assert.Empty(DesiredState());
        _lab.Ok("deploy", saved);
        WaitForGuests();
        Assert.Equal(deployed, DesiredState());

        // The graph names every node and each connected nic with its kind.
        var mermaid = _lab.Ok("graph");
        Assert.StartsWith("flowchart LR", mermaid, StringComparison.Ordinal);
        Assert.Contains("node_vm1 ---|\"eth0 d\"| lan_lan1", mermaid, StringComparison.Ordinal);
        Assert.Contains("node_c1 ---|\"eth1 s\"| lan_lan2", mermaid, StringComparison.Ordinal);
        using (var graph = JsonDocument.Parse(_lab.Ok("graph", "--format", "json")))
        {
            Assert.Equal(6, graph.RootElement.GetProperty("links").GetArrayLength());
        }

        // Destroy: what the file names goes, a node and a lan it does not name stay.
        _lab.Ok("add", "lan", "keep");
        _lab.Ok("add", "cnt", "extra");
        _lab.Ok("connect", "extra", "0", "keep");
        _lab.Ok("destroy", saved);
        Assert.Equal(["node extra cnt", "lan keep"], DesiredState().Select(l => string.Join(' ', l.Split(' ').Take(l.StartsWith("node", StringComparison.Ordinal) ? 3 : 2))));
        Assert.Contains("nothing to remove", _lab.Ok("destroy", saved), StringComparison.Ordinal);
    }
}

/// <summary>The same save and redeploy over three hosts: nodes, an s nic's impairment and a member-less lan each on the host the file names.</summary>
[Collection("dataplane")]
public sealed class LabFileOnThreeHostsTests(ThreeHosts cluster) : IClassFixture<ThreeHosts>
{
    private Lab H(int i) => cluster.Labs[i - 1];

    private static bool Ours(string name) => name.StartsWith('f');

    [Fact]
    public void A_lab_over_three_hosts_saved_through_one_host_deploys_again_through_another_to_the_same_listing()
    {
        cluster.AllUp();
        var dir = Directory.CreateTempSubdirectory("cloonix-labfile-mh-").FullName;
        try
        {
            var file = Path.Combine(dir, "lab.yaml");
            File.WriteAllText(file, """
                version: 1
                lans: [fa, fb, {name: fspare, host: HOST3}]
                nodes:
                  - {name: f1, host: HOST1, nics: [{kind: v, lan: fa}]}
                  - name: f2
                    host: HOST2
                    nics:
                      - {kind: s, lan: fa, impair: {dir: in, delay: 10}}
                      - {kind: v, lan: fb}
                  - {name: f3, kind: vm, ram: 128, host: HOST3, nics: [{kind: v, lan: fb}]}
                """.Replace("HOST1", H(1).Host, StringComparison.Ordinal).Replace("HOST2", H(2).Host, StringComparison.Ordinal).Replace("HOST3", H(3).Host, StringComparison.Ordinal));
            H(1).Ok("deploy", file);
            Lab.WaitUntil(() => H(1).Exec("f3", "true").ExitCode == 0, TimeSpan.FromSeconds(180), "f3's guest agent");
            var deployed = LabFileTests.DesiredState(H(2), Ours);
            Assert.Contains(deployed, l => l.StartsWith($"node f2 cnt {H(2).Host} ", StringComparison.Ordinal) && l.Contains("\"delayMs\":10", StringComparison.Ordinal));
            Assert.Contains(deployed, l => l.StartsWith($"lan fspare {H(3).Host} ", StringComparison.Ordinal));
            Assert.Equal(2, deployed.Count(l => l.StartsWith("lan fa ", StringComparison.Ordinal)));

            var saved = Path.Combine(dir, "saved.yaml");
            H(3).Ok("save", saved);
            Assert.Contains("nothing to change", H(2).Ok("deploy", saved), StringComparison.Ordinal);
            var mermaid = H(1).Ok("graph");
            Assert.Contains($"subgraph host_{H(3).Host}[\"host {H(3).Host}\"]", mermaid, StringComparison.Ordinal);
            Assert.Contains("node_f2 ---|\"eth0 s\"| lan_fa", mermaid, StringComparison.Ordinal);

            H(1).Ok("purge");
            Assert.Empty(LabFileTests.DesiredState(H(1), Ours));
            H(2).Ok("deploy", saved);
            Lab.WaitUntil(() => H(1).Exec("f3", "true").ExitCode == 0, TimeSpan.FromSeconds(180), "f3's guest agent");
            Assert.Equal(deployed, LabFileTests.DesiredState(H(3), Ours));
            H(3).Ok("destroy", saved);
            Assert.Empty(LabFileTests.DesiredState(H(2), Ours));
        }
        finally
        {
            foreach (var name in new[] { "f1", "f2", "f3", "fa", "fb", "fspare" })
            {
                H(1).Cli("del", name, "--force");
            }

            Directory.Delete(dir, recursive: true);
        }
    }
}
