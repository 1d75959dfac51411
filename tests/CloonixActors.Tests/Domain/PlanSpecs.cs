using CloonixActors.Domain;
using CloonixActors.Domain.Plans;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

/// <summary>The coordinator's requests as pure plans: registry events, each host's part, outcome and undo, without actors.</summary>
public sealed class PlanSpecs
{
    private static readonly string[] Live = ["h1", "h2"];

    /// <summary>lan l1 on h1; node old on h1; node far on h3 (not live).</summary>
    private static Registry Cluster() => Registry.Empty.ApplyAll(
    [
        new LanRegistered("l1", Registry.FirstVni),
        new LanSegmentAdded("l1", "h1"),
        new NodePlaced("old", "h1"),
        new NodePlaced("far", "h3"),
    ]);

    private static HostPlan Accepted(RequestPlan plan)
    {
        Assert.Null(plan.Rejection);
        return plan.Hosts!;
    }

    private static PlanOutcome Done(PlanStep step)
    {
        Assert.Null(step.Next);
        return step.Outcome!;
    }

    private static HostAnswer Ok(string host) => new(host, new CommandSucceeded("done"));

    [Fact]
    public void A_deploy_reserves_every_node_lan_and_segment_first_and_gives_each_host_only_its_part()
    {
        var plan = DeployPlan.Plan(Cluster(), new DeployTopology(["l2"], [new ContainerSpec("c1", 1, "h2")], [new EndpointSpec("c1", 0, "l2"), new EndpointSpec("old", 0, "l2")]), Live);

        Assert.Equal<IRegistryEvent>(
            [new NodePlaced("c1", "h2"), new LanRegistered("l2", Registry.FirstVni + 1), new LanSegmentAdded("l2", "h2"), new LanSegmentAdded("l2", "h1")],
            plan.Events);
        var parts = Accepted(plan).Parts;
        Assert.Equal(["h1", "h2"], parts.Select(p => p.Host));
        var (h1, h2) = ((DeployTopology)parts[0].Command, (DeployTopology)parts[1].Command);
        Assert.Equal(["l2"], h1.Lans);
        Assert.Empty(h1.Containers);
        Assert.Equal([new EndpointSpec("old", 0, "l2")], h1.Endpoints);
        Assert.Equal(["l2"], h2.Lans);
        Assert.Equal(["c1"], h2.Containers.Select(c => c.Name));
        Assert.Equal([new EndpointSpec("c1", 0, "l2")], h2.Endpoints);
        Assert.Equal("deployed 1 lan(s), 1 node(s), 2 endpoint(s) on 2 host(s)", ((CommandSucceeded)Done(plan.Hosts!.Answered([Ok("h1"), Ok("h2")])).Reply).Message);
    }

    [Fact]
    public void A_deploy_one_host_refuses_is_forgotten_whole_and_undone_on_the_hosts_that_applied_it()
    {
        var plan = Accepted(DeployPlan.Plan(Cluster(), new DeployTopology(["l2"], [new ContainerSpec("c1", 1, "h2")], [new EndpointSpec("c1", 0, "l2"), new EndpointSpec("old", 0, "l2")]), Live));

        var outcome = Done(plan.Answered([new HostAnswer("h1", new CommandFailed(ErrorCode.InvalidArgument, "endpoints[0]: no nic")), Ok("h2")]));

        Assert.Equal<IRegistryEvent>(
            [new NodeUnplaced("c1"), new LanSegmentRemoved("l2", "h2"), new LanSegmentRemoved("l2", "h1"), new LanUnregistered("l2")],
            outcome.Events);
        Assert.Equal(new CommandFailed(ErrorCode.InvalidArgument, "host h1: endpoints[0]: no nic (nothing of the topology was kept)"), outcome.Reply);
        Assert.Equal<HostPart>([new HostPart("h2", new DeleteObject("c1", true)), new HostPart("h2", new DeleteObject("l2", true))], outcome.Undo);
    }

    [Fact]
    public void A_deploy_host_that_recorded_its_part_but_could_not_apply_it_yet_keeps_the_topology()
    {
        var plan = Accepted(DeployPlan.Plan(Registry.Empty, new DeployTopology([], [new ContainerSpec("c1", 1)], []), Live));

        var outcome = Done(plan.Answered([new HostAnswer("h1", new CommandFailed(ErrorCode.DataPlane, "ovs is not ready"))]));

        Assert.Empty(outcome.Events);
        Assert.Empty(outcome.Undo);
        Assert.IsType<CommandSucceeded>(outcome.Reply);
    }

    [Theory]
    [InlineData("h9", null, "host 'h9' is not a live member of the cluster")]
    [InlineData(null, "nolan", "a lan host names no lan of this topology or of the cluster")]
    public void A_deploy_naming_a_host_not_live_or_a_lan_that_is_nowhere_is_refused_before_anything_is_reserved(string? nodeHost, string? lanHostLan, string message)
    {
        var plan = DeployPlan.Plan(Registry.Empty, new DeployTopology(["l"], [new ContainerSpec("c1", 1, nodeHost)], [], LanHosts: lanHostLan is null ? null : [new LanPlacement(lanHostLan, "h1")]), Live);

        Assert.Equal(message, plan.Rejection?.Message);
        Assert.Empty(plan.Events);
    }

    [Fact]
    public void A_connect_to_a_lan_new_on_the_nodes_host_makes_the_bridge_first_then_connects()
    {
        var plan = ConnectPlan.Plan(Cluster(), new ConnectNic("old", 0, "l2"), Live);
        Assert.Equal(ErrorCode.NotFound, plan.Rejection?.Code);

        var registry = Cluster().Apply(new NodePlaced("n2", "h2"));
        plan = ConnectPlan.Plan(registry, new ConnectNic("n2", 0, "l1"), Live);
        Assert.Equal<IRegistryEvent>([new LanSegmentAdded("l1", "h2")], plan.Events);
        var hosts = Accepted(plan);
        Assert.Equal<HostPart>([new HostPart("h2", new AddLan("l1"))], hosts.Parts);

        var next = hosts.Answered([new HostAnswer("h2", new CommandFailed(ErrorCode.AlreadyExists, "lan l1 exists"))]).Next!;
        Assert.Equal<HostPart>([new HostPart("h2", new ConnectNic("n2", 0, "l1"))], next.Parts);
        var outcome = Done(next.Answered([Ok("h2")]));
        Assert.Equal((0, "done"), (outcome.Events.Length, ((CommandSucceeded)outcome.Reply).Message));
    }

    [Fact]
    public void A_bridge_the_host_refuses_leaves_the_registry_but_one_it_only_could_not_make_yet_stays()
    {
        var registry = Cluster().Apply(new NodePlaced("n2", "h2"));
        var hosts = Accepted(ConnectPlan.Plan(registry, new ConnectNic("n2", 0, "l1"), Live));

        var refused = Done(hosts.Answered([new HostAnswer("h2", new CommandFailed(ErrorCode.InvalidArgument, "no"))]));
        var later = Done(hosts.Answered([new HostAnswer("h2", new CommandFailed(ErrorCode.DataPlane, "not yet"))]));

        Assert.Equal<IRegistryEvent>([new LanSegmentRemoved("l1", "h2")], refused.Events);
        Assert.Empty(later.Events);
        Assert.Equal("not yet", ((CommandFailed)later.Reply).Message);
    }

    [Fact]
    public void A_connect_to_a_segment_already_there_goes_straight_to_the_nic_and_a_lan_is_not_a_node()
    {
        var hosts = Accepted(ConnectPlan.Plan(Cluster(), new ConnectNic("old", 0, "l1"), Live));
        Assert.Equal<HostPart>([new HostPart("h1", new ConnectNic("old", 0, "l1"))], hosts.Parts);

        Assert.Equal(new CommandFailed(ErrorCode.NotFound, "'l1' is a lan, not a node"), ConnectPlan.Plan(Cluster(), new ConnectNic("l1", 0, "l1"), Live).Rejection);
        Assert.Equal(new CommandFailed(ErrorCode.NotFound, "'old' is a node, not a lan"), ConnectPlan.Plan(Cluster(), new ConnectNic("old", 0, "old"), Live).Rejection);
        Assert.Equal(
            new CommandFailed(ErrorCode.Unavailable, "host 'h3' holding node far is not reachable; retry when it is back"),
            ConnectPlan.Plan(Cluster(), new ConnectNic("far", 0, "l1"), Live).Rejection);
    }

    [Fact]
    public void A_lan_is_deleted_from_the_registry_segment_by_segment_and_whole_once_every_host_removed_it()
    {
        var registry = Cluster().Apply(new LanSegmentAdded("l1", "h2"));
        var hosts = Accepted(DeletePlan.Plan(registry, new DeleteObject("l1", false), Live));
        Assert.Equal(["h1", "h2"], hosts.Parts.Select(p => p.Host));

        var all = Done(hosts.Answered([Ok("h1"), new HostAnswer("h2", new CommandFailed(ErrorCode.NotFound, "no lan named 'l1'"))]));
        Assert.Equal<IRegistryEvent>([new LanSegmentRemoved("l1", "h1"), new LanSegmentRemoved("l1", "h2"), new LanUnregistered("l1")], all.Events);
        Assert.Equal("l1 deleted", ((CommandSucceeded)all.Reply).Message);

        var part = Done(hosts.Answered([Ok("h1"), new HostAnswer("h2", new CommandFailed(ErrorCode.Conflict, "lan l1 has members"))]));
        Assert.Equal<IRegistryEvent>([new LanSegmentRemoved("l1", "h1")], part.Events);
        Assert.Equal("host h2: lan l1 has members", ((CommandFailed)part.Reply).Message);
    }

    [Fact]
    public void A_lan_without_segments_asks_no_host_and_a_node_leaves_the_registry_once_its_host_removed_it()
    {
        var registry = Registry.Empty.Apply(new LanRegistered("bare", Registry.FirstVni)).Apply(new NodePlaced("n1", "h2"));
        var bare = Accepted(DeletePlan.Plan(registry, new DeleteObject("bare", false), Live));
        Assert.Empty(bare.Parts);
        Assert.Equal<IRegistryEvent>([new LanUnregistered("bare")], Done(bare.Answered([])).Events);

        var node = Accepted(DeletePlan.Plan(registry, new DeleteObject("n1", false), Live));
        Assert.Equal<HostPart>([new HostPart("h2", new DeleteObject("n1", false))], node.Parts);
        Assert.Equal<IRegistryEvent>([new NodeUnplaced("n1")], Done(node.Answered([Ok("h2")])).Events);
        Assert.Empty(Done(node.Answered([new HostAnswer("h2", new CommandFailed(ErrorCode.DataPlane, "later"))])).Events);

        Assert.Equal("no node or lan named 'zz'", DeletePlan.Plan(registry, new DeleteObject("zz", false), Live).Rejection?.Message);
        Assert.Equal("host 'h3' holding node far is not reachable; retry when it is back", DeletePlan.Plan(Cluster(), new DeleteObject("far", false), Live).Rejection?.Message);
    }

    [Fact]
    public void A_purge_forgets_what_the_purged_hosts_held_and_names_the_hosts_it_could_not_reach()
    {
        var registry = Cluster().Apply(new NodePlaced("n2", "h2")).Apply(new LanRegistered("bare", Registry.FirstVni + 1));
        var hosts = Accepted(PurgePlan.Plan(registry, Live));
        Assert.Equal<HostPart>([new HostPart("h1", new PurgeAll()), new HostPart("h2", new PurgeAll())], hosts.Parts);

        var outcome = Done(hosts.Answered([Ok("h1"), Ok("h2")]));

        Assert.Equal<IRegistryEvent>(
            [new NodeUnplaced("old"), new LanSegmentRemoved("l1", "h1"), new NodeUnplaced("n2"), new LanUnregistered("bare"), new LanUnregistered("l1")],
            outcome.Events);
        Assert.Equal("purged 2 host(s); unreachable, not purged: h3", ((CommandSucceeded)outcome.Reply).Message);
        Assert.Equal("no host is live in the cluster yet", PurgePlan.Plan(registry, []).Rejection?.Message);
    }

    [Fact]
    public void A_purge_a_host_refused_keeps_that_hosts_part_and_says_which_host_refused()
    {
        var hosts = Accepted(PurgePlan.Plan(Cluster().Remove("far"), Live));

        var outcome = Done(hosts.Answered([new HostAnswer("h1", new CommandFailed(ErrorCode.DataPlane, "ovs down")), Ok("h2")]));

        Assert.Empty(outcome.Events);
        Assert.Equal("host h1: ovs down", ((CommandFailed)outcome.Reply).Message);
    }

    [Fact]
    public void A_node_a_host_refuses_frees_its_name_and_with_several_hosts_a_success_says_where()
    {
        var plan = PlaceNodePlan.Plan(Registry.Empty, "n1", null, new AddContainer("n1", 1), Live, severalHosts: true);
        Assert.Equal<IRegistryEvent>([new NodePlaced("n1", "h1")], plan.Events);
        var hosts = Accepted(plan);

        Assert.Equal<IRegistryEvent>([new NodeUnplaced("n1")], Done(hosts.Answered([new HostAnswer("h1", new CommandFailed(ErrorCode.InvalidArgument, "99 nics"))])).Events);
        Assert.Equal("done on host h1", ((CommandSucceeded)Done(hosts.Answered([Ok("h1")])).Reply).Message);
    }

    [Fact]
    public void A_lan_with_no_host_named_in_a_cluster_is_only_registered_and_one_with_a_host_is_taken_back_if_refused()
    {
        var bare = AddLanPlan.Plan(Registry.Empty, new AddLan("l"), Live, severalHosts: true);
        Assert.Null(bare.Hosts);
        Assert.Equal("lan l added (VXLAN id 1000); its bridges appear on the hosts of its members", ((CommandSucceeded)bare.Reply!).Message);

        var hosts = Accepted(AddLanPlan.Plan(Registry.Empty, new AddLan("l", "h2"), Live, severalHosts: true));
        Assert.Equal<HostPart>([new HostPart("h2", new AddLan("l"))], hosts.Parts);
        Assert.Equal<IRegistryEvent>(
            [new LanSegmentRemoved("l", "h2"), new LanUnregistered("l")],
            Done(hosts.Answered([new HostAnswer("h2", new CommandFailed(ErrorCode.InvalidArgument, "no"))])).Events);
    }

    [Fact]
    public void A_listing_adds_what_only_the_registry_knows_and_a_silent_host_lists_nothing()
    {
        var plan = new ListPlan(Cluster().Apply(new LanRegistered("bare", 1500)), ["h1"]);
        Assert.True(plan.ReadOnly);
        var fromH1 = new TopologyListing([new NodeView("old", "container", "h1", "ns", [])], [new LanView("l1", "h1", "br", [])]);

        var listing = (TopologyListing)Done(plan.Answered([new HostAnswer("h1", fromH1)])).Reply;

        Assert.Equal([("far", "unreachable"), ("old", "container")], listing.Nodes.Select(n => (n.Name, n.Kind)));
        Assert.Equal([("bare", 1500), ("l1", Registry.FirstVni)], listing.Lans.Select(l => (l.Name, l.Vni)));
        Assert.Equal(new TopologyListing([], []).Nodes, ((TopologyListing)plan.NoAnswer(TimeSpan.FromSeconds(1))).Nodes);
    }

    [Fact]
    public void A_command_for_a_node_goes_to_its_host_when_live()
    {
        Assert.Equal(("h1", (CommandFailed?)null), NodeRoute.Of(Cluster(), "old", Live));
        Assert.Equal("'l1' is a lan, not a node", NodeRoute.Of(Cluster(), "l1", Live).Rejection?.Message);
        Assert.Equal("no node named 'zz'", NodeRoute.Of(Cluster(), "zz", Live).Rejection?.Message);
        Assert.Equal(ErrorCode.InvalidArgument, NodeRoute.Of(Cluster(), "Bad Name", Live).Rejection?.Code);
        Assert.Equal(ErrorCode.Unavailable, NodeRoute.Of(Cluster(), "far", Live).Rejection?.Code);
    }
}

internal static class RegistryTestExtensions
{
    public static Registry Remove(this Registry registry, string node) => registry.Apply(new NodeUnplaced(node));
}
