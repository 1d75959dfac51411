using CloonixActors.Domain;
using CloonixActors.Protocol;
using static CloonixActors.Tests.Domain.TopologyAssert;

namespace CloonixActors.Tests.Domain;

public sealed class TopologySpecs
{
    private static readonly Topology Empty = Topology.Empty;

    /// <summary>A lab with two lans and two containers: n1/0 and n2/0 on lan1, n1/1 on lan2.</summary>
    private static Topology Lab() => Empty.RunAll(
        new AddLan("lan1"),
        new AddLan("lan2"),
        new AddContainer("n1", 2),
        new AddContainer("n2", 1),
        new ConnectNic("n1", 0, "lan1"),
        new ConnectNic("n2", 0, "lan1"),
        new ConnectNic("n1", 1, "lan2"));

    public static TheoryData<string> InvalidNames => new()
    {
        "",
        "Lan",
        "LAN1",
        "1lan",
        "-lan",
        "_lan",
        "abcdefghijklmnop", // 16 characters
        new string('a', 200),
        "a;b",
        "$(x)",
        "`id`",
        "a|b",
        "a&b",
        "a>b",
        "a/b",
        "/",
        "..",
        "../etc",
        "lan\n",
        "lan\r",
        "a.b",
        "a b",
        " a",
        "a\tb",
        "a\nb",
        "\n",
        "é",
        "lаn", // Cyrillic 'а'
        "ｌａｎ", // full-width letters
        "a١", // Arabic-Indic digit
    };

    [Fact]
    public void AddLan_yields_LanAdded_with_the_next_id()
    {
        var decision = Empty.Decide(new AddLan("lan1"));

        Assert.True(decision.Accepted);
        Assert.Equal([new LanAdded("lan1", Empty.NextId)], decision.Events.ToArray());
        var state = Empty.ApplyAll(decision.Events);
        Assert.Equal(new LanSpec("lan1", Empty.NextId), state.Lans["lan1"]);
        Assert.Equal(Empty.NextId + 1, state.NextId);
    }

    [Fact]
    public void AddContainer_yields_ContainerNodeAdded_with_the_next_id_and_veth_nics()
    {
        var before = Empty.Run(new AddLan("lan1"));

        var decision = before.Decide(new AddContainer("n1", 3));

        Assert.Equal([new ContainerNodeAdded("n1", before.NextId, [NicKind.Veth, NicKind.Veth, NicKind.Veth])], decision.Events.ToArray());
        var state = before.ApplyAll(decision.Events);
        Assert.Equal(new NodeSpec("n1", before.NextId, NodeKind.Container, [NicKind.Veth, NicKind.Veth, NicKind.Veth]), state.Nodes["n1"]);
        Assert.Equal(before.NextId + 1, state.NextId);
    }

    [Theory]
    [InlineData("lan", "lan")]
    [InlineData("lan", "node")]
    [InlineData("node", "lan")]
    [InlineData("node", "node")]
    public void A_name_is_unique_across_lans_and_nodes(string first, string second)
    {
        static ITopologyCommand Add(string kind) => kind == "lan" ? new AddLan("x") : new AddContainer("x", 1);
        var state = Empty.Run(Add(first));

        var rejection = Rejected(state.Decide(Add(second)), ErrorCode.AlreadyExists);

        Assert.Contains($"a {first}", rejection.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void Every_command_refuses_an_invalid_name(string name)
    {
        var state = Lab();
        ITopologyCommand[] commands =
        [
            new AddLan(name),
            new AddContainer(name, 1),
            new DeleteObject(name, false),
            new DeleteObject(name, true),
            new ConnectNic(name, 0, "lan1"),
            new ConnectNic("n1", 0, name),
            new DisconnectNic(name, 0),
        ];

        foreach (var command in commands)
        {
            Rejected(state.Decide(command), ErrorCode.InvalidArgument);
        }
    }

    [Fact]
    public void A_null_name_is_refused_as_empty()
    {
        var rejection = Rejected(Empty.Decide(new AddLan(null!)), ErrorCode.InvalidArgument);

        Assert.Contains("empty", rejection.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(Topology.MaxNics + 1)]
    [InlineData(100_000)]
    public void A_container_with_a_nic_count_out_of_range_is_refused(int nics) =>
        Assert.Equal(
            $"a container has 1 to 32 nics, not {nics}",
            Rejected(Empty.Decide(new AddContainer("n1", nics)), ErrorCode.InvalidArgument).Message);

    [Fact]
    public void A_container_without_a_nic_list_is_refused() =>
        Assert.Equal(
            "the request lists no nics: a container has 1 to 32 nics",
            Rejected(Empty.Decide(new AddContainer("n1", null!)), ErrorCode.InvalidArgument).Message);

    [Theory]
    [InlineData(1)]
    [InlineData(Topology.MaxNics)]
    public void A_container_with_a_nic_count_at_the_limits_is_accepted(int nics) =>
        Assert.Equal(nics, Empty.Run(new AddContainer("n1", nics)).Nodes["n1"].Nics);

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(Topology.MaxNics)]
    public void Connecting_or_disconnecting_a_nic_the_node_lacks_is_refused(int nic)
    {
        var state = Empty.RunAll(new AddLan("lan1"), new AddContainer("n1", 2));

        Rejected(state.Decide(new ConnectNic("n1", nic, "lan1")), ErrorCode.InvalidArgument);
        Rejected(state.Decide(new DisconnectNic("n1", nic)), ErrorCode.InvalidArgument);
    }

    [Fact]
    public void ConnectNic_yields_NicConnected_and_the_nic_becomes_a_member()
    {
        var state = Empty.RunAll(new AddLan("lan1"), new AddContainer("n1", 2));

        var decision = state.Decide(new ConnectNic("n1", 1, "lan1"));

        Assert.Equal([new NicConnected("n1", 1, "lan1")], decision.Events.ToArray());
        Assert.Equal([new NicRef("n1", 1)], state.ApplyAll(decision.Events).MembersOf("lan1"));
    }

    [Theory]
    [InlineData("lan1")]
    [InlineData("lan2")]
    public void Connecting_a_connected_nic_again_is_refused(string lan)
    {
        var rejection = Rejected(Lab().Decide(new ConnectNic("n1", 0, lan)), ErrorCode.Conflict);

        Assert.Contains("lan1", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Connecting_to_an_unknown_lan_is_refused() =>
        Rejected(Lab().Decide(new ConnectNic("n1", 0, "nolan")), ErrorCode.NotFound);

    [Fact]
    public void Connecting_an_unknown_node_is_refused() =>
        Rejected(Lab().Decide(new ConnectNic("nonode", 0, "lan1")), ErrorCode.NotFound);

    [Fact]
    public void Connecting_a_lan_as_if_it_were_a_node_is_refused_saying_so()
    {
        var rejection = Rejected(Lab().Decide(new ConnectNic("lan2", 0, "lan1")), ErrorCode.NotFound);

        Assert.Contains("is a lan, not a node", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Connecting_to_a_node_as_if_it_were_a_lan_is_refused_saying_so()
    {
        var state = Empty.RunAll(new AddContainer("n1", 1), new AddContainer("n2", 1));

        var rejection = Rejected(state.Decide(new ConnectNic("n1", 0, "n2")), ErrorCode.NotFound);

        Assert.Contains("is a node, not a lan", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DisconnectNic_yields_NicDisconnected_naming_the_lan_it_left()
    {
        var state = Lab();

        var decision = state.Decide(new DisconnectNic("n1", 1));

        Assert.Equal([new NicDisconnected("n1", 1, "lan2")], decision.Events.ToArray());
        Assert.Empty(state.ApplyAll(decision.Events).MembersOf("lan2"));
    }

    [Fact]
    public void Disconnecting_a_nic_that_is_not_connected_is_refused()
    {
        var state = Lab().Run(new DisconnectNic("n1", 1));

        Rejected(state.Decide(new DisconnectNic("n1", 1)), ErrorCode.Conflict);
    }

    [Fact]
    public void Disconnecting_a_nic_of_an_unknown_node_is_refused() =>
        Rejected(Lab().Decide(new DisconnectNic("nonode", 0)), ErrorCode.NotFound);

    [Fact]
    public void Deleting_a_lan_with_members_is_refused_without_force()
    {
        var rejection = Rejected(Lab().Decide(new DeleteObject("lan1", false)), ErrorCode.Conflict);

        Assert.Contains("n1/0", rejection.Message, StringComparison.Ordinal);
        Assert.Contains("--force", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deleting_a_lan_with_members_and_force_disconnects_them_then_removes_the_lan()
    {
        var state = Lab();

        var decision = state.Decide(new DeleteObject("lan1", true));

        Assert.Equal(
            [new NicDisconnected("n1", 0, "lan1"), new NicDisconnected("n2", 0, "lan1"), new LanRemoved("lan1")],
            decision.Events.ToArray());
        var after = state.ApplyAll(decision.Events);
        Assert.False(after.Lans.ContainsKey("lan1"));
        Assert.DoesNotContain("lan1", after.Endpoints.Values);
        Assert.Equal("lan2", after.Endpoints[new NicRef("n1", 1)]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Deleting_an_empty_lan_only_removes_it(bool force)
    {
        var state = Lab().Run(new AddLan("lan3"));

        var decision = state.Decide(new DeleteObject("lan3", force));

        Assert.Equal([new LanRemoved("lan3")], decision.Events.ToArray());
    }

    [Fact]
    public void Deleting_a_node_takes_its_endpoints_and_leaves_the_lans()
    {
        var state = Lab();

        var decision = state.Decide(new DeleteObject("n1", false));

        Assert.Equal(
            [new NicDisconnected("n1", 0, "lan1"), new NicDisconnected("n1", 1, "lan2"), new NodeRemoved("n1")],
            decision.Events.ToArray());
        var after = state.ApplyAll(decision.Events);
        Assert.False(after.Nodes.ContainsKey("n1"));
        Assert.Empty(after.EndpointsOf("n1"));
        Assert.Equal(["lan1", "lan2"], after.Lans.Keys);
        Assert.Equal([new NicRef("n2", 0)], after.MembersOf("lan1"));
    }

    [Fact]
    public void Deleting_an_unknown_name_is_refused() =>
        Rejected(Lab().Decide(new DeleteObject("nothing", true)), ErrorCode.NotFound);

    [Fact]
    public void Purge_disconnects_every_endpoint_then_removes_nodes_and_lans()
    {
        var state = Lab();

        var decision = state.Decide(new PurgeAll());

        Assert.True(decision.Accepted);
        var kinds = decision.Events.Select(e => e.GetType()).ToList();
        Assert.Equal(3, kinds.Count(k => k == typeof(NicDisconnected)));
        Assert.True(kinds.FindLastIndex(k => k == typeof(NicDisconnected)) < kinds.FindIndex(k => k != typeof(NicDisconnected)));
        Assert.Equal(["n1", "n2"], decision.Events.OfType<NodeRemoved>().Select(r => r.Name));
        Assert.Equal(["lan1", "lan2"], decision.Events.OfType<LanRemoved>().Select(r => r.Name));
        var after = state.ApplyAll(decision.Events);
        Assert.Empty(after.Lans);
        Assert.Empty(after.Nodes);
        Assert.Empty(after.Endpoints);
        Assert.Equal(state.NextId, after.NextId);
    }

    [Fact]
    public void Purge_of_an_empty_lab_is_accepted_with_no_events()
    {
        var decision = Empty.Decide(new PurgeAll());

        Assert.True(decision.Accepted);
        Assert.Empty(decision.Events);
    }

    [Fact]
    public void Ids_increase_and_are_never_reused_after_a_deletion()
    {
        var state = Empty.RunAll(new AddLan("a"), new AddContainer("b", 1), new AddLan("c"));
        var used = new[] { state.Lans["a"].Id, state.Nodes["b"].Id, state.Lans["c"].Id };
        Assert.Equal(used.Order(), used);
        Assert.Equal(used.Length, used.Distinct().Count());

        state = state.RunAll(new DeleteObject("c", false), new DeleteObject("b", false), new AddContainer("b", 1), new AddLan("c"));
        Assert.True(state.Nodes["b"].Id > used.Max());
        Assert.True(state.Lans["c"].Id > state.Nodes["b"].Id);

        var beforePurge = state.NextId;
        state = state.Run(new PurgeAll()).Run(new AddLan("a"));
        Assert.Equal(beforePurge, state.Lans["a"].Id);
    }

    [Fact]
    public void Replaying_the_events_of_accepted_commands_rebuilds_an_equal_state()
    {
        ITopologyCommand[] script =
        [
            new AddLan("lan1"),
            new AddContainer("n1", 3),
            new AddLan("lan2"),
            new AddContainer("n2", 2),
            new ConnectNic("n1", 0, "lan1"),
            new ConnectNic("n1", 2, "lan2"),
            new ConnectNic("n2", 1, "lan1"),
            new DeployTopology(["lan3"], [new ContainerSpec("n3", 1)], [new EndpointSpec("n3", 0, "lan3"), new EndpointSpec("n2", 0, "lan3")]),
            new DisconnectNic("n1", 0),
            new DeleteObject("lan2", true),
            new DeleteObject("n2", false),
            new AddLan("lan2"),
            new ConnectNic("n1", 0, "lan2"),
        ];
        var live = Empty;
        var journal = new List<ITopologyEvent>();
        foreach (var command in script)
        {
            var decision = live.Decide(command);
            Assert.True(decision.Accepted, decision.Rejection?.Message);
            journal.AddRange(decision.Events);
            live = live.ApplyAll(decision.Events);
        }

        var replayed = Empty.ApplyAll(journal);

        SameTopology(live, replayed);
        Assert.Equal(["lan1", "lan2", "lan3"], replayed.Lans.Keys);
        Assert.Equal(["n1", "n3"], replayed.Nodes.Keys);
        Assert.Equal([new NicRef("n1", 0), new NicRef("n3", 0)], replayed.Endpoints.Keys);
        Assert.Equal(["lan2", "lan3"], replayed.Endpoints.Values);
    }

    [Fact]
    public void A_snapshot_round_trip_keeps_lans_nodes_endpoints_and_next_id()
    {
        // Deletions leave NextId above every live id: the snapshot must carry it, not recompute it.
        var state = Lab().RunAll(new AddLan("gone"), new AddContainer("gone2", 1), new DeleteObject("gone", false), new DeleteObject("gone2", false));

        var restored = Topology.FromSnapshot(state.ToSnapshot());

        SameTopology(state, restored);
        Assert.True(restored.NextId > restored.Lans.Values.Select(l => l.Id).Concat(restored.Nodes.Values.Select(n => n.Id)).Max() + 1);
        Assert.Equal(state.NextId, restored.Run(new AddLan("next")).Lans["next"].Id);
    }

    [Fact]
    public void A_snapshot_of_the_empty_state_restores_the_empty_state() =>
        SameTopology(Empty, Topology.FromSnapshot(Empty.ToSnapshot()));

    [Fact]
    public void Deploy_records_lans_then_containers_then_endpoints()
    {
        var id = Empty.NextId;

        var decision = Empty.Decide(new DeployTopology(
            ["lan1", "lan2"],
            [new ContainerSpec("n1", 2)],
            [new EndpointSpec("n1", 0, "lan1"), new EndpointSpec("n1", 1, "lan2")]));

        Assert.Equal(
            [
                new LanAdded("lan1", id),
                new LanAdded("lan2", id + 1),
                new ContainerNodeAdded("n1", id + 2, [NicKind.Veth, NicKind.Veth]),
                new NicConnected("n1", 0, "lan1"),
                new NicConnected("n1", 1, "lan2"),
            ],
            decision.Events.ToArray());
    }

    [Fact]
    public void Deploy_records_vms_typed_container_nics_and_impairments_after_the_endpoints()
    {
        var id = Empty.NextId;

        var decision = Empty.Decide(new DeployTopology(
            ["lan1"],
            [new ContainerSpec("c1", [NicKind.Veth, NicKind.Spyable])],
            [new EndpointSpec("vm1", 1, "lan1"), new EndpointSpec("c1", 1, "lan1")],
            Vms: [new VmNodeSpec("vm1", [NicKind.VhostUser, NicKind.Spyable], 128, 1, "tiny")],
            Impairments: [new ImpairNic("vm1", 1, "in", 10, 2, 0, 0)]));

        Assert.Equal(
            [
                new LanAdded("lan1", id),
                new ContainerNodeAdded("c1", id + 1, [NicKind.Veth, NicKind.Spyable]),
                new VmNodeAdded("vm1", id + 2, [NicKind.VhostUser, NicKind.Spyable], 128, 1, "tiny"),
                new NicConnected("vm1", 1, "lan1"),
                new NicConnected("c1", 1, "lan1"),
                new NicImpaired("vm1", 1, "in", 10, 2, 0, 0),
            ],
            decision.Events.ToArray());
    }

    [Fact]
    public void A_deploy_is_checked_against_the_hosts_facts()
    {
        var decision = Empty.Decide(new DeployTopology([], [], [], Vms: [new VmNodeSpec("vm1", [NicKind.VhostUser], 128, 1, "tiny")]), new HostFacts(4096, 2, false, "no DPDK here"));

        Assert.Contains("vms[0]", Rejected(decision, ErrorCode.Unavailable).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_impairment_of_a_deploy_on_a_v_nic_refuses_the_whole_deploy()
    {
        var decision = Empty.Decide(new DeployTopology([], [new ContainerSpec("c1", 1)], [], Impairments: [new ImpairNic("c1", 0, "both", 10, 0, 0, 0)]));

        Assert.Contains("impairments[0]", Rejected(decision, ErrorCode.InvalidArgument).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deploy_builds_on_the_existing_lab()
    {
        var state = Lab();

        var after = state.Run(new DeployTopology([], [new ContainerSpec("n3", 1)], [new EndpointSpec("n3", 0, "lan2")]));

        Assert.Equal([new NicRef("n1", 1), new NicRef("n3", 0)], after.MembersOf("lan2"));
    }

    public static TheoryData<DeployTopology, ErrorCode, string> BadDeploys => new()
    {
        { new DeployTopology(["lan1", "lan1"], [], []), ErrorCode.AlreadyExists, "lans[1]" },
        { new DeployTopology(["lan1"], [new ContainerSpec("lan1", 1)], []), ErrorCode.AlreadyExists, "nodes[0]" },
        { new DeployTopology(["lan1"], [new ContainerSpec("n1", 0)], []), ErrorCode.InvalidArgument, "nodes[0]" },
        { new DeployTopology(["lan1"], [new ContainerSpec("n1", 1)], [new EndpointSpec("n1", 0, "lan1"), new EndpointSpec("n1", 0, "lan1")]), ErrorCode.Conflict, "endpoints[1]" },
        { new DeployTopology(["lan1"], [new ContainerSpec("n1", 1)], [new EndpointSpec("n1", 1, "lan1")]), ErrorCode.InvalidArgument, "endpoints[0]" },
        { new DeployTopology(["lan1"], [new ContainerSpec("n1", 1)], [new EndpointSpec("n1", 0, "nolan")]), ErrorCode.NotFound, "endpoints[0]" },
        { new DeployTopology(["a;b"], [], []), ErrorCode.InvalidArgument, "lans[0]" },
        { new DeployTopology([null!], [], []), ErrorCode.InvalidArgument, "lans[0]" },
        { new DeployTopology(["lan1"], [null!], []), ErrorCode.InvalidArgument, "nodes[0]" },
        { new DeployTopology(["lan1"], [], [null!]), ErrorCode.InvalidArgument, "endpoints[0]" },
        { new DeployTopology([], [], []), ErrorCode.InvalidArgument, "empty" },
        { new DeployTopology(null!, null!, null!), ErrorCode.InvalidArgument, "empty" },
    };

    [Theory]
    [MemberData(nameof(BadDeploys))]
    public void Deploy_is_all_or_nothing_and_names_the_part_it_refused(DeployTopology deploy, ErrorCode code, string where)
    {
        var rejection = Rejected(Empty.Decide(deploy), code);

        Assert.Contains(where, rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deploy_refuses_a_name_the_lab_already_has() =>
        Rejected(Lab().Decide(new DeployTopology(["lan3", "n1"], [], [])), ErrorCode.AlreadyExists);

    [Fact]
    public void An_unknown_command_type_is_refused()
    {
        var rejection = Rejected(Lab().Decide(new NotKnownToTopology()), ErrorCode.InvalidArgument);

        Assert.Contains(nameof(NotKnownToTopology), rejection.Message, StringComparison.Ordinal);
    }

    public static TheoryData<Type> TopologyCommandTypes =>
        [.. Serialization.MessageSamples.ConcreteMessageTypes.Where(t => typeof(ITopologyCommand).IsAssignableFrom(t))];

    [Theory]
    [MemberData(nameof(TopologyCommandTypes))]
    public void Every_topology_command_of_the_protocol_is_decided(Type type)
    {
        var sample = (ITopologyCommand)Serialization.MessageSamples.For(type);

        var decision = Lab().Decide(sample);

        Assert.DoesNotContain("unknown command", decision.Rejection?.Message ?? string.Empty, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_refuses_an_unknown_event_type() =>
        Assert.Throws<ArgumentException>(() => Empty.Apply(new NotKnownEvent()));

    private sealed record NotKnownToTopology : ITopologyCommand;

    private sealed record NotKnownEvent : ITopologyEvent;
}
