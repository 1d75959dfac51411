using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

/// <summary>The lab file against a running lab: the diff a deploy makes, what destroy removes, and the listing read back as a file.</summary>
public sealed class LabFileSpecs
{
    private static readonly ImpairmentSpec Delay = new(20, 5, 0, 0);

    private static LabNode Cnt(string name, params LabNic[] nics) => new(name, NodeKind.Container, [.. nics]);

    private static LabNode Vm(string name, params LabNic[] nics) => new(name, NodeKind.Vm, [.. nics], Vm: new VmSpec(256, 1, "tiny"));

    /// <summary>lan1 and lan2; c1 (v on lan1, s on lan2 with a delay both ways); vm1 (d on lan1, v free).</summary>
    private static LabFile File() => new(
        [new LabLan("lan1"), new LabLan("lan2", "h2")],
        [
            Cnt("c1", new LabNic(NicKind.Veth, "lan1"), new LabNic(NicKind.Spyable, "lan2", Delay, Delay)),
            Vm("vm1", new LabNic(NicKind.VhostUser, "lan1"), new LabNic(NicKind.Tap)),
        ]);

    [Fact]
    public void Against_an_empty_lab_every_part_is_added_lans_first_and_impairments_last()
    {
        var diff = LabDiff.Compute(File(), LabFile.Empty);

        Assert.Null(diff.Conflict);
        Assert.Equal(
            [
                "add lan lan1",
                "add lan lan2 on host h2",
                "add cnt with nics v,s: c1",
                "add vm with nics d,v, ram 256 MB, cpus 1, image tiny: vm1",
                "connect c1 0 lan1",
                "connect c1 1 lan2",
                "connect vm1 0 lan1",
                "impair c1 1 both: delay 20 ms jitter 5 ms",
            ],
            diff.Changes.Select(c => c.ToString()));
    }

    [Fact]
    public void A_lab_that_holds_the_file_needs_no_change()
    {
        Assert.True(LabDiff.Compute(File(), File()).IsEmpty);
    }

    [Fact]
    public void Only_what_the_lab_lacks_is_added_and_the_lab_s_other_nodes_are_left_alone()
    {
        var lab = new LabFile(
            [new LabLan("lan1"), new LabLan("other")],
            [Cnt("c1", new LabNic(NicKind.Veth, "lan1"), new LabNic(NicKind.Spyable)), Cnt("extra", new LabNic(NicKind.Veth, "other"))]);

        var diff = LabDiff.Compute(File(), lab);

        Assert.Null(diff.Conflict);
        Assert.Equal(
            ["add lan lan2 on host h2", "add vm with nics d,v, ram 256 MB, cpus 1, image tiny: vm1", "connect c1 1 lan2", "connect vm1 0 lan1", "impair c1 1 both: delay 20 ms jitter 5 ms"],
            diff.Changes.Select(c => c.ToString()));
    }

    public static TheoryData<LabFile, string> Conflicts => new()
    {
        { new LabFile([new LabLan("c1")], []), "'c1' is a lan in the file but a node in the lab" },
        { new LabFile([], [Cnt("lan1")]), "'lan1' is a node in the file but a lan in the lab" },
        { new LabFile([], [Vm("c1", new LabNic(NicKind.Tap), new LabNic(NicKind.Spyable))]), "node 'c1' differs: the file has a vm with nics v,s" },
        { new LabFile([], [Cnt("c1", new LabNic(NicKind.Veth))]), "the lab a cnt with nics v,s" },
        { new LabFile([], [Cnt("c1", new LabNic(NicKind.Veth, "lan1"), new LabNic(NicKind.Veth))]), "the file has a cnt with nics v,v" },
        { new LabFile([], [Cnt("c1", new LabNic(NicKind.Veth, "lan9"), new LabNic(NicKind.Spyable))]), "joins lan 'lan9', which is neither in the file nor in the lab" },
        { new LabFile([new LabLan("lan3")], [Cnt("c1", new LabNic(NicKind.Veth, "lan3"), new LabNic(NicKind.Spyable))]), "nic c1/0 is on lan 'lan1' in the lab, the file puts it on 'lan3'" },
        { new LabFile([], [Cnt("c1", new LabNic(NicKind.Veth), new LabNic(NicKind.Spyable))]), "the file leaves it on none" },
        { new LabFile([], [Cnt("c1", new LabNic(NicKind.Veth, "lan1"), new LabNic(NicKind.Spyable)) with { Host = "h9" }]), "on host 'h1' in the lab, the file puts it on 'h9'" },
        { new LabFile([], [Vm("vm2", new LabNic(NicKind.Tap)) with { Vm = new VmSpec(512, 1, "tiny") }]), "ram 512 MB" },
    };

    [Theory]
    [MemberData(nameof(Conflicts))]
    public void A_name_the_lab_holds_as_something_else_is_a_conflict_and_no_change(LabFile file, string message)
    {
        var lab = new LabFile(
            [new LabLan("lan1")],
            [Cnt("c1", new LabNic(NicKind.Veth, "lan1"), new LabNic(NicKind.Spyable)) with { Host = "h1" }, Vm("vm2", new LabNic(NicKind.Tap))]);

        var diff = LabDiff.Compute(file, lab);

        Assert.NotNull(diff.Conflict);
        Assert.Contains(message, diff.Conflict, StringComparison.Ordinal);
        Assert.Empty(diff.Changes);
    }

    [Fact]
    public void Impairments_are_set_to_the_file_s_figures_per_direction_or_removed()
    {
        var loss = new ImpairmentSpec(0, 0, 5, 0);
        var lab = new LabFile([], [Cnt("c1", new LabNic(NicKind.Spyable, null, Delay, Delay), new LabNic(NicKind.Spyable, null, loss))]);
        var file = new LabFile([], [Cnt("c1", new LabNic(NicKind.Spyable, null, Delay, loss), new LabNic(NicKind.Spyable))]);

        var diff = LabDiff.Compute(file, lab);

        Assert.Equal(["impair c1 0 out: loss 5 %", "impair c1 1 both: none"], diff.Changes.Select(c => c.ToString()));
        var (deploy, then) = diff.ToRequests();
        Assert.Null(deploy);
        Assert.Equal([new ImpairNic("c1", 0, "out", 0, 0, 5, 0), new ImpairNic("c1", 1, "both", 0, 0, 0, 0)], then);
    }

    [Fact]
    public void The_new_part_is_one_deploy_request_with_the_new_nodes_impairments_and_the_old_nodes_impairments_follow()
    {
        var lab = new LabFile([new LabLan("lan1")], [Cnt("old", new LabNic(NicKind.Spyable))]);
        var file = new LabFile(
            [new LabLan("lan1"), new LabLan("lan2", "h2")],
            [Cnt("old", new LabNic(NicKind.Spyable, "lan1", Delay, Delay)), File().Nodes[0] with { Host = "h1" }, File().Nodes[1]]);

        var (deploy, then) = LabDiff.Compute(file, lab).ToRequests("h3");

        Assert.NotNull(deploy);
        Assert.Equal(["lan2"], deploy.Lans);
        Assert.Equal([new ContainerSpec("c1", [NicKind.Veth, NicKind.Spyable], "h1")], deploy.Containers);
        Assert.Equal([new VmNodeSpec("vm1", [NicKind.VhostUser, NicKind.Tap], 256, 1, "tiny")], deploy.Vms!);
        Assert.Equal([new EndpointSpec("old", 0, "lan1"), new EndpointSpec("c1", 0, "lan1"), new EndpointSpec("c1", 1, "lan2"), new EndpointSpec("vm1", 0, "lan1")], deploy.Endpoints);
        Assert.Equal([new ImpairNic("c1", 1, "both", 20, 5, 0, 0)], deploy.Impairments!);
        Assert.Equal([new LanPlacement("lan2", "h2")], deploy.LanHosts!);
        Assert.Equal("h3", deploy.Host);
        Assert.Equal([new ImpairNic("old", 0, "both", 20, 5, 0, 0)], then);
    }

    [Fact]
    public void A_listing_reads_back_as_the_file_with_hosts_vm_specs_and_impairments()
    {
        var listing = new TopologyListing(
            [
                new NodeView("c1", "cnt", "h1", "cxa-h1.c1", [new NicView(0, "veth", "lan1", "p0"), new NicView(1, "s", "lan2", "p1", "both: delay 20 ms", new ImpairmentView(20, 5, 0, 0), new ImpairmentView(20, 5, 0, 0))]),
                new NodeView("vm1", "vm", "h2", string.Empty, [new NicView(0, "d", "lan1", "p2"), new NicView(1, "v", null, "p3")], 256, 1, "tiny"),
            ],
            [new LanView("lan1", "h1", "b1", ["c1/0"]), new LanView("lan1", "h2", "b2", ["vm1/0"]), new LanView("lan2", "h1", "b3", ["c1/1"]), new LanView("lan2", "h2", "b4", []), new LanView("lan3", "h3", "b5", [])]);

        var (lab, problem) = LabFile.FromListing(listing);

        Assert.Null(problem);
        Assert.Equal(["lan1:", "lan2:h2", "lan3:h3"], lab!.Lans.Select(l => $"{l.Name}:{l.Host}"));
        Assert.True(LabDiff.Compute(lab, lab).IsEmpty);
        Assert.Equal("c1 cnt h1 v,s lan1,lan2 in delay 20 ms jitter 5 ms", Describe(lab.Nodes[0]));
        Assert.Equal("vm1 vm h2 d,v lan1, in none", Describe(lab.Nodes[1]));
        Assert.Equal(new VmSpec(256, 1, "tiny"), lab.Nodes[1].Vm);
    }

    private static string Describe(LabNode n) =>
        $"{n.Name} {n.KindName} {n.Host} {n.NicLetters} {string.Join(',', n.Nics.Select(x => x.Lan))} in {n.Nics[^1].InOrNone}";

    [Fact]
    public void A_listing_with_a_node_on_a_host_that_does_not_answer_cannot_be_read_whole()
    {
        var (lab, problem) = LabFile.FromListing(new TopologyListing([new NodeView("c9", "unreachable", "h9", string.Empty, [])], []));

        Assert.Null(lab);
        Assert.Contains("'c9' is on host 'h9', which does not answer", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Destroy_removes_the_file_s_nodes_then_its_lans_that_the_lab_holds()
    {
        var lab = new LabFile([new LabLan("lan1"), new LabLan("keep")], [Cnt("c1", new LabNic(NicKind.Veth, "lan1"), new LabNic(NicKind.Spyable)), Cnt("other", new LabNic(NicKind.Veth, "keep"))]);

        var (delete, problem) = LabDiff.DestroyPlan(File(), lab);

        Assert.Null(problem);
        Assert.Equal(["c1", "lan1"], delete);
    }

    public static TheoryData<LabFile, string> BadDestroys => new()
    {
        { new LabFile([new LabLan("lan1")], []), "lan 'lan1' also holds other/0, of nodes the file does not name" },
        { new LabFile([new LabLan("other")], []), "'other' is a lan in the file but a node in the lab" },
        { new LabFile([], [Cnt("lan1")]), "'lan1' is a node in the file but a lan in the lab" },
        { new LabFile([], [Vm("other", new LabNic(NicKind.Tap))]), "'other' is a vm in the file but a cnt in the lab" },
    };

    [Theory]
    [MemberData(nameof(BadDestroys))]
    public void Destroy_refuses_before_removing_anything_when_it_would_touch_what_the_file_does_not_name(LabFile file, string message)
    {
        var lab = new LabFile([new LabLan("lan1")], [Cnt("other", new LabNic(NicKind.Veth, "lan1"))]);

        var (delete, problem) = LabDiff.DestroyPlan(file, lab);

        Assert.Empty(delete);
        Assert.Equal(message, problem);
    }
}
