using CloonixActors.Cli;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Cli;

/// <summary>The topology file: every field of version 1, the files written before it, errors with their line, and save's output read back.</summary>
public sealed class TopologyFileSpecs
{
    private const string Full = """
        version: 1
        lans:
          - lan1
          - {name: lan2, host: h2}
        nodes:
          - name: c1
            kind: cnt
            host: h1
            nics:
              - {kind: v, lan: lan1}
              - {kind: s, lan: lan2, impair: {dir: both, delay: 20, jitter: 5, loss: 1, rate: 100}}
          - name: vm1
            kind: vm
            ram: 128
            cpus: 2
            image: /srv/disk.qcow2
            nics: [{kind: d}, {kind: v}, {kind: s, impair: [{dir: in, delay: 10}, {dir: out, loss: 2.5}]}]
          - {name: c2, nics: "v,s", connect: [lan1, "-"]}
          - {name: vm2, kind: vm, nics: [v]}
        endpoints:
          - {node: vm1, nic: 0, lan: lan1}
          - {node: c2, nic: 1, lan: lan2}
        """;

    [Fact]
    public void Every_field_of_version_1_is_read()
    {
        var lab = TopologyFile.Parse(Full, "lab.yaml");

        Assert.Equal([new LabLan("lan1"), new LabLan("lan2", "h2")], lab.Lans.ToArray());
        var c1 = lab.Nodes[0];
        Assert.Equal(("c1", NodeKind.Container, "h1", (VmSpec?)null), (c1.Name, c1.Kind, c1.Host, c1.Vm));
        Assert.Equal([new LabNic(NicKind.Veth, "lan1"), new LabNic(NicKind.Spyable, "lan2", new ImpairmentSpec(20, 5, 1, 100), new ImpairmentSpec(20, 5, 1, 100))], c1.Nics.ToArray());
        var vm1 = lab.Nodes[1];
        Assert.Equal((NodeKind.Vm, new VmSpec(128, 2, "/srv/disk.qcow2")), (vm1.Kind, vm1.Vm));
        Assert.Equal([new LabNic(NicKind.VhostUser, "lan1"), new LabNic(NicKind.Tap), new LabNic(NicKind.Spyable, null, new ImpairmentSpec(10, 0, 0, 0), new ImpairmentSpec(0, 0, 2.5, 0))], vm1.Nics.ToArray());
        Assert.Equal([new LabNic(NicKind.Veth, "lan1"), new LabNic(NicKind.Spyable, "lan2")], lab.Nodes[2].Nics.ToArray());
        Assert.Equal((new VmSpec(256, 1, "tiny"), "v"), (lab.Nodes[3].Vm, lab.Nodes[3].NicLetters));
    }

    [Fact]
    public void A_file_written_before_the_version_key_is_still_read()
    {
        var lab = TopologyFile.Parse(
            """
            lans: [lan1, lan2]
            nodes:
              - {name: c1, kind: cnt, nics: 2, connect: [lan1, lan2]}
              - {name: c2, kind: cnt, nics: 3, connect: [lan1]}
              - {name: c3}
            """,
            "old.yaml");

        Assert.Equal(["lan1", "lan2"], lab.Lans.Select(l => l.Name));
        Assert.Equal(["lan1", "lan2"], lab.Nodes[0].Nics.Select(n => n.Lan));
        Assert.Equal(["lan1", null, null], lab.Nodes[1].Nics.Select(n => n.Lan));
        Assert.All(lab.Nodes.SelectMany(n => n.Nics), n => Assert.Equal(NicKind.Veth, n.Kind));
        Assert.Single(lab.Nodes[2].Nics);
    }

    [Fact]
    public void What_save_writes_reads_back_as_the_same_lab()
    {
        var lab = TopologyFile.Parse(Full, "lab.yaml");

        var written = TopologyFile.Write(lab);
        var again = TopologyFile.Parse(written, "saved.yaml");

        Assert.StartsWith("version: 1\n", written.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Equal(lab.Lans.ToArray(), again.Lans.ToArray());
        Assert.Equal(lab.Nodes.Select(n => (n.Name, n.Kind, n.Host, n.Vm)), again.Nodes.Select(n => (n.Name, n.Kind, n.Host, n.Vm)));
        Assert.Equal(lab.Nodes.SelectMany(n => n.Nics), again.Nodes.SelectMany(n => n.Nics));
        Assert.True(LabDiff.Compute(again, lab).IsEmpty);
    }

    [Fact]
    public void An_empty_lab_is_saved_as_a_file_that_reads_back_empty()
    {
        var again = TopologyFile.Parse(TopologyFile.Write(LabFile.Empty), "empty.yaml");

        Assert.Empty(again.Lans);
        Assert.Empty(again.Nodes);
    }

    public static TheoryData<string, int, string> BadFiles => new()
    {
        { "version: 2\n", 1, "version 2 is not one this client reads" },
        { "version: one\n", 1, "version 'one' is not a whole number" },
        { "lans: [lan1]\nnodez: []\n", 2, "unknown key 'nodez'" },
        { "lans: lan1\n", 1, "'lans' must be a list" },
        { "lans: [Lan1]\n", 1, "lan name 'Lan1' is invalid" },
        { "lans: [lan1]\nnodes:\n  - name: lan1\n", 3, "name 'lan1' is already used on line 1" },
        { "nodes:\n  - {name: c1, kind: pc}\n", 2, "kind 'pc' is neither cnt nor vm" },
        { "nodes:\n  - {name: c1, nics: [d]}\n", 2, "nic kind 'd' is not one a cnt has (v or s)" },
        { "nodes:\n  - {name: vm1, kind: vm}\n", 2, "a vm needs 'nics'" },
        { "nodes:\n  - {name: vm1, kind: vm, nics: 2}\n", 2, "not counted" },
        { "nodes:\n  - {name: c1, ram: 128}\n", 2, "'ram' is for a vm, not a cnt" },
        { "nodes:\n  - name: vm1\n    kind: vm\n    nics: [v]\n    ram: lots\n", 5, "ram 'lots' is not a whole number" },
        { "nodes:\n  - {name: vm1, kind: vm, nics: [v], image: disk.qcow2}\n", 2, "must be 'tiny' or an absolute path" },
        { "nodes:\n  - {name: c1, nics: 40}\n", 2, "has 40 nics: 1 to 32" },
        { "nodes:\n  - {name: c1, nics: 1, connect: [lan1, lan2]}\n", 2, "connects 2 nics but has 1" },
        { "nodes:\n  - name: c1\n    nics:\n      - {kind: v, impair: {delay: 5}}\n", 4, "only s (spyable) nics pass the relay" },
        { "nodes:\n  - name: c1\n    nics:\n      - {kind: s, impair: {delay: 5, jitter: 9}}\n", 4, "jitter 9 ms must be between 0 and the delay" },
        { "nodes:\n  - name: c1\n    nics:\n      - {kind: s, impair: {dir: up}}\n", 4, "dir 'up' must be in, out or both" },
        { "nodes:\n  - name: c1\n    nics:\n      - {kind: s, impair: [{dir: in, loss: 1}, {dir: both, loss: 2}]}\n", 4, "the in direction is impaired twice" },
        { "nodes:\n  - name: c1\n    nics:\n      - {kind: s, impair: {delay: fast}}\n", 4, "delay 'fast' is not a number" },
        { "nodes:\n  - name: c1\n    nics:\n      - {kind: v, colour: red}\n", 4, "unknown key 'colour' in a nic" },
        { "nodes:\n  - name: c1\n    nics:\n      - {kind: v, link: down}\n", 4, "'link' (a nic's link state) is reserved" },
        { "nodes:\n  - {name: c1, state: stopped}\n", 2, "'state' (a node's state) is reserved" },
        { "nodes:\n  - {name: c1}\nendpoints:\n  - {node: c2, nic: 0, lan: lan1}\n", 4, "endpoint of 'c2', which is no node of the file" },
        { "nodes:\n  - {name: c1}\nendpoints:\n  - {node: c1, nic: 3, lan: lan1}\n", 4, "there is no nic 3" },
        { "nodes:\n  - {name: c1, connect: [lan1]}\nendpoints:\n  - {node: c1, nic: 0, lan: lan2}\n", 4, "already put on lan 'lan1'" },
        { "nodes:\n  - {name: c1, connect: [c2]}\n  - {name: c2}\n", 2, "joins 'c2', a node of the file (line 3), not a lan" },
        { "nodes:\n  - {name: c1, name: c2}\n", 2, "Duplicate key name" },
        { "nodes:\n  - {kind: cnt}\n", 2, "'name' is missing" },
        { "nodes: [c1]\n", 1, "a node must be a mapping" },
        { "lans: [lan1\n", 2, string.Empty },
        { "lans: [lan7\nnodes: {", 2, "the file ends inside an unclosed list, mapping or quote" },
        { "", 1, "the file is empty" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_bad_file_is_one_error_with_its_line(string text, int line, string message)
    {
        var ex = Assert.Throws<ClientException>(() => TopologyFile.Parse(text, "lab.yaml"));

        Assert.Equal(2, ex.ExitCode);
        Assert.StartsWith($"lab.yaml: line {line}: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    /// <summary>The README's example file, as printed there.</summary>
    private const string ReadmeExample = """
        version: 1
        lans:
          - lan1
          - {name: lan2}
          - {name: spare, host: h2}       # a lan without members: its bridge goes on h2
        nodes:
          - name: vm1
            kind: vm
            host: h1                      # optional: else --host, else the least loaded host
            ram: 256                      # MB (default 256)
            cpus: 1                       # default 1
            image: tiny                   # tiny, or the absolute path of a qcow2 or raw disk
            nics:
              - {kind: d, lan: lan1}      # d: vhost-user on OVS-DPDK
              - {kind: v}                 # v: a tap; no lan: not connected
              - {kind: s, lan: lan2, impair: {dir: both, delay: 20, jitter: 5, loss: 1, rate: 100}}
          - name: c1
            kind: cnt                     # the default kind
            host: h1
            nics:
              - {kind: v, lan: lan1}      # v: a veth pair
              - {kind: s, impair: [{dir: in, loss: 2}, {dir: out, rate: 50}]}
          - {name: c2, host: h2, nics: 2, connect: [lan1, "-"]}   # the older forms still read
        endpoints:                        # the same as a nic's lan:, as a list
          - {node: c1, nic: 1, lan: lan2}
        """;

    [Fact]
    public void The_readme_example_reads_and_deploys_as_the_readme_says()
    {
        var lab = TopologyFile.Parse(ReadmeExample, "lab.yaml");

        Assert.Equal([new LabLan("lan1"), new LabLan("lan2"), new LabLan("spare", "h2")], lab.Lans.ToArray());
        Assert.Equal(["vm1 vm h1 d,v,s lan1,,lan2", "c1 cnt h1 v,s lan1,lan2", "c2 cnt h2 v,v lan1,"], lab.Nodes.Select(n => $"{n.Name} {n.KindName} {n.Host} {n.NicLetters} {string.Join(',', n.Nics.Select(x => x.Lan))}"));
        Assert.Equal(new ImpairmentSpec(20, 5, 1, 100), lab.Nodes[0].Nics[2].In);
        Assert.Equal((new ImpairmentSpec(0, 0, 2, 0), new ImpairmentSpec(0, 0, 0, 50)), (lab.Nodes[1].Nics[1].In, lab.Nodes[1].Nics[1].Out));
        Assert.Equal(
            [
                "add lan lan1",
                "add lan lan2",
                "add lan spare on host h2",
                "add vm with nics d,v,s, ram 256 MB, cpus 1, image tiny: vm1 on host h1",
                "add cnt with nics v,s: c1 on host h1",
                "add cnt with nics v,v: c2 on host h2",
                "connect vm1 0 lan1",
                "connect vm1 2 lan2",
                "connect c1 0 lan1",
                "connect c1 1 lan2",
                "connect c2 0 lan1",
                "impair vm1 2 both: delay 20 ms jitter 5 ms loss 1 % rate 100 Mbit/s",
                "impair c1 1 in: loss 2 %",
                "impair c1 1 out: rate 50 Mbit/s",
            ],
            LabDiff.Compute(lab, LabFile.Empty).Changes.Select(c => c.ToString()));
    }
}
