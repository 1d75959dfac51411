using System.Text.Json;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

public sealed class LabGraphSpecs
{
    /// <summary>Two hosts: lan-a only on h1, lan2 spanning both; c1 (cnt, v and s nics) on h1, vm1 (d and v) on h2.</summary>
    private static readonly TopologyListing Listing = new(
        [
            new NodeView("c1", "cnt", "h1", "cxa-h1.c1", [new NicView(0, "veth", "lan-a", "p0"), new NicView(1, "s", "lan2", "p1")]),
            new NodeView("vm1", "vm", "h2", string.Empty, [new NicView(0, "d", "lan2", "p2"), new NicView(1, "v", null, "p3")], 256, 1, "tiny"),
        ],
        [new LanView("lan-a", "h1", "b1", ["c1/0"]), new LanView("lan2", "h1", "b2", ["c1/1"]), new LanView("lan2", "h2", "b3", ["vm1/0"])]);

    [Fact]
    public void Mermaid_groups_nodes_and_single_host_lans_by_host_and_labels_each_link_with_its_nic_kind()
    {
        Assert.Equal(
            """
            flowchart LR
              subgraph host_h1["host h1"]
                node_c1["c1 cnt"]
                lan_lan__a(["lan-a"])
              end
              subgraph host_h2["host h2"]
                node_vm1["vm1 vm 256 MB"]
              end
              lan_lan2(["lan2"])
              node_c1 ---|"eth0 v"| lan_lan__a
              node_c1 ---|"eth1 s"| lan_lan2
              node_vm1 ---|"eth0 d"| lan_lan2

            """.ReplaceLineEndings("\n"),
            LabGraph.Render(Listing, LabGraph.Mermaid).ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Dot_has_a_cluster_per_host_and_an_edge_per_connected_nic()
    {
        var dot = LabGraph.Render(Listing, LabGraph.Dot);

        Assert.StartsWith("graph lab {", dot, StringComparison.Ordinal);
        Assert.Contains("subgraph \"cluster_h1\" {", dot, StringComparison.Ordinal);
        Assert.Contains("\"node:vm1\" [shape=box, label=\"vm1 vm 256 MB\"];", dot, StringComparison.Ordinal);
        Assert.Contains("\"node:c1\" -- \"lan:lan2\" [label=\"eth1 s\"];", dot, StringComparison.Ordinal);
        Assert.Equal(3, dot.Split('\n').Count(l => l.Contains(" -- ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Json_lists_hosts_spanning_lans_nodes_with_nic_letters_and_links()
    {
        using var doc = JsonDocument.Parse(LabGraph.Render(Listing, LabGraph.Json));
        var root = doc.RootElement;

        Assert.Equal(["h1", "h2"], root.GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("name").GetString()));
        Assert.Equal(["lan-a"], root.GetProperty("hosts")[0].GetProperty("lans").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(["lan2"], root.GetProperty("spanningLans").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(["v", "s"], root.GetProperty("nodes")[0].GetProperty("nics").EnumerateArray().Select(n => n.GetProperty("kind").GetString()));
        Assert.Equal(3, root.GetProperty("links").GetArrayLength());
    }

    [Fact]
    public void An_unknown_format_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LabGraph.Render(Listing, "png"));
    }

    /// <summary>The example of the README: vm1 and c1 on h1, c2 on h2; lan1 spans both, lan2 is on h1 only, spare on h2 only.</summary>
    [Fact]
    public void The_readme_example_renders_as_the_readme_shows()
    {
        var listing = new TopologyListing(
            [
                new NodeView("c1", "cnt", "h1", "cxa-h1.c1", [new NicView(0, "veth", "lan1", "p0"), new NicView(1, "s", "lan2", "p1")]),
                new NodeView("c2", "cnt", "h2", "cxa-h2.c2", [new NicView(0, "veth", "lan1", "p2"), new NicView(1, "veth", null, "p3")]),
                new NodeView("vm1", "vm", "h1", string.Empty, [new NicView(0, "d", "lan1", "p4"), new NicView(1, "v", null, "p5"), new NicView(2, "s", "lan2", "p6")], 256, 1, "tiny"),
            ],
            [new LanView("lan1", "h1", "b1", ["c1/0", "vm1/0"]), new LanView("lan1", "h2", "b2", ["c2/0"]), new LanView("lan2", "h1", "b3", ["c1/1", "vm1/2"]), new LanView("spare", "h2", "b4", [])]);

        Assert.Equal(
            """
            flowchart LR
              subgraph host_h1["host h1"]
                node_c1["c1 cnt"]
                node_vm1["vm1 vm 256 MB"]
                lan_lan2(["lan2"])
              end
              subgraph host_h2["host h2"]
                node_c2["c2 cnt"]
                lan_spare(["spare"])
              end
              lan_lan1(["lan1"])
              node_c1 ---|"eth0 v"| lan_lan1
              node_c1 ---|"eth1 s"| lan_lan2
              node_c2 ---|"eth0 v"| lan_lan1
              node_vm1 ---|"eth0 d"| lan_lan1
              node_vm1 ---|"eth2 s"| lan_lan2

            """.ReplaceLineEndings("\n"),
            LabGraph.Render(listing, LabGraph.Mermaid).ReplaceLineEndings("\n"));
    }
}
