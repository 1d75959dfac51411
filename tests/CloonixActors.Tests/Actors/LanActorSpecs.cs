using Akka.Actor;
using CloonixActors.DataPlane;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using CloonixActors.Tests.Fakes;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

public sealed class LanActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "lan", output)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private readonly LanSpec _lan = new("lan1", 7);
    private readonly FakeOvsSwitch _ovs = new();

    private string Bridge => _lan.Bridge;

    private IActorRef StartLan() => Sys.ActorOf(LanActor.Props(_lan, _ovs), "lan1");

    private static SetLanMembers Members(IActorRef? replyTo, params string[] ports) =>
        new([.. ports.Select(p => new PortSpec(p))], replyTo);

    [Fact]
    public async Task LanActor_should_not_touch_OVS_before_OvsReady()
    {
        var lan = StartLan();

        lan.Tell(Members(TestActor, "cxa1n0"));

        await ExpectNoMsgAsync(Quiet);
        Assert.Empty(_ovs.Calls);
        Assert.Empty(_ovs.Bridges);
    }

    [Fact]
    public async Task LanActor_should_apply_its_members_once_OvsReady_arrives_and_answer_after_they_are_applied()
    {
        var lan = StartLan();
        lan.Tell(Members(TestActor, "cxa1n0", "cxa2n0"));
        await ExpectNoMsgAsync(Quiet);

        lan.Tell(new OvsReady(1));

        await ExpectMsgAsync<CommandSucceeded>();
        // The answer comes only after the transaction: the ports are there the moment it arrives.
        Assert.Equal(["cxa1n0", "cxa2n0"], _ovs.PortsOf(Bridge));
    }

    [Fact]
    public async Task LanActor_should_answer_a_change_that_arrives_after_OvsReady()
    {
        var lan = StartLan();
        lan.Tell(new OvsReady(1));

        lan.Tell(Members(TestActor, "cxa3n1"));

        await ExpectMsgAsync<CommandSucceeded>();
        Assert.Equal(["cxa3n1"], _ovs.PortsOf(Bridge));
    }

    [Fact]
    public async Task LanActor_should_remove_ports_that_are_not_desired_and_add_only_the_missing_ones()
    {
        _ovs.Seed(Bridge, "cxa1n0", "cxa9n0");
        var lan = StartLan();
        lan.Tell(Members(TestActor, "cxa1n0", "cxa2n0"));

        lan.Tell(new OvsReady(1));

        await ExpectMsgAsync<CommandSucceeded>();
        Assert.Equal(["cxa1n0", "cxa2n0"], _ovs.PortsOf(Bridge));
        var apply = Assert.Single(_ovs.CallsTo(FakeOvsSwitch.Apply));
        Assert.Equal(["+cxa2n0", "-cxa9n0"], apply.Args);
    }

    [Fact]
    public async Task LanActor_should_answer_every_requester_and_end_with_the_last_member_set()
    {
        var lan = StartLan();
        lan.Tell(new OvsReady(1));
        await AwaitConditionAsync(() => Task.FromResult(_ovs.Calls.Count > 0));
        _ovs.Pause(); // the first pass is done or held: the changes below queue up behind it
        var requesters = Enumerable.Range(0, 5).Select(_ => CreateTestProbe()).ToList();

        for (var i = 0; i < requesters.Count; i++)
        {
            lan.Tell(Members(requesters[i], [.. Enumerable.Range(0, i + 1).Select(n => $"cxa{n + 1}n0")]));
        }

        _ovs.Resume();
        foreach (var requester in requesters)
        {
            await requester.ExpectMsgAsync<CommandSucceeded>();
        }

        Assert.Equal(["cxa1n0", "cxa2n0", "cxa3n0", "cxa4n0", "cxa5n0"], _ovs.PortsOf(Bridge));
        foreach (var requester in requesters)
        {
            await requester.ExpectNoMsgAsync(TimeSpan.Zero);
        }
    }

    [Fact]
    public async Task LanActor_should_answer_CommandFailed_when_OVS_fails_and_apply_on_the_next_reconcile()
    {
        _ovs.Fail(FakeOvsSwitch.Apply, "ovs-vsctl: database connection failed");
        var lan = StartLan();
        lan.Tell(new OvsReady(1));

        lan.Tell(Members(TestActor, "cxa1n0"));

        var failed = await ExpectMsgAsync<CommandFailed>();
        Assert.Equal(ErrorCode.DataPlane, failed.Code);
        Assert.Contains("database connection failed", failed.Message, StringComparison.Ordinal);
        Assert.Null(_ovs.PortsOf(Bridge));

        _ovs.Heal(FakeOvsSwitch.Apply);
        lan.Tell(Reconcile.Instance);

        await AwaitAssertAsync(() => Assert.Equal(["cxa1n0"], _ovs.PortsOf(Bridge)));
    }

    [Fact]
    public async Task LanActor_should_answer_CommandFailed_when_listing_the_ports_fails()
    {
        _ovs.Fail(FakeOvsSwitch.ListPorts, "ovs-vsctl: timed out");
        var lan = StartLan();
        lan.Tell(new OvsReady(1));

        lan.Tell(Members(TestActor, "cxa1n0"));

        Assert.Equal(ErrorCode.DataPlane, (await ExpectMsgAsync<CommandFailed>()).Code);
        Assert.Empty(_ovs.CallsTo(FakeOvsSwitch.Apply));
    }

    [Fact]
    public async Task LanActor_should_reapply_its_ports_when_OVS_comes_back_without_them()
    {
        var lan = StartLan();
        lan.Tell(new OvsReady(1));
        lan.Tell(Members(TestActor, "cxa1n0", "cxa2n1"));
        await ExpectMsgAsync<CommandSucceeded>();

        _ovs.Wipe();
        lan.Tell(new OvsReady(2));

        await AwaitAssertAsync(() => Assert.Equal(["cxa1n0", "cxa2n1"], _ovs.PortsOf(Bridge)));
    }

    [Fact]
    public async Task LanActor_should_bounce_a_recreated_port_by_removing_it_then_adding_it_again()
    {
        var lan = StartLan();
        lan.Tell(new OvsReady(1));
        lan.Tell(Members(TestActor, "cxa1n0", "cxa2n0"));
        await ExpectMsgAsync<CommandSucceeded>();
        var before = _ovs.CallsTo(FakeOvsSwitch.Apply).Count;

        lan.Tell(new BouncePorts(["cxa1n0", "cxa5n0"]));

        await AwaitAssertAsync(() =>
        {
            var applied = _ovs.CallsTo(FakeOvsSwitch.Apply).Skip(before).Select(c => c.Args).ToList();
            Assert.Equal(2, applied.Count);
            Assert.Equal(["-cxa1n0"], applied[0]); // cxa5n0 is no port of this bridge: nothing to bounce
            Assert.Equal(["+cxa1n0"], applied[1]);
        });
        Assert.Equal(["cxa1n0", "cxa2n0"], _ovs.PortsOf(Bridge));
    }

    [Fact]
    public async Task LanActor_should_delete_its_bridge_answer_TeardownDone_and_stop_on_Teardown()
    {
        var lan = StartLan();
        lan.Tell(new OvsReady(1));
        lan.Tell(Members(TestActor, "cxa1n0"));
        await ExpectMsgAsync<CommandSucceeded>();
        Watch(lan);

        lan.Tell(new Teardown(TestActor));

        var done = await ExpectMsgAsync<TeardownDone>();
        Assert.Null(done.Error);
        Assert.Contains("lan1", done.What, StringComparison.Ordinal);
        await ExpectTerminatedAsync(lan);
        Assert.DoesNotContain(Bridge, _ovs.Bridges);
    }

    [Fact]
    public async Task LanActor_should_report_a_failed_bridge_deletion_and_stop_all_the_same()
    {
        var lan = StartLan();
        _ovs.Fail(FakeOvsSwitch.Delete, "ovs-vsctl: no connection");
        Watch(lan);

        lan.Tell(new Teardown(TestActor));

        var done = await ExpectMsgAsync<TeardownDone>();
        Assert.Contains("no connection", done.Error, StringComparison.Ordinal);
        await ExpectTerminatedAsync(lan);
    }

    [Fact]
    public async Task LanActor_should_answer_a_change_in_flight_before_it_tears_down_and_leave_no_bridge()
    {
        var lan = StartLan();
        _ovs.Pause();
        lan.Tell(new OvsReady(1));
        var changer = CreateTestProbe();
        lan.Tell(Members(changer, "cxa1n0"));
        await AwaitConditionAsync(() => Task.FromResult(_ovs.CallsTo(FakeOvsSwitch.ListPorts).Count > 0));
        Watch(lan);

        lan.Tell(new Teardown(TestActor));
        _ovs.Resume();

        await changer.ExpectMsgAsync<IClientReply>();
        Assert.Null((await ExpectMsgAsync<TeardownDone>()).Error);
        await ExpectTerminatedAsync(lan);
        // The deletion ran after the reconciliation: it did not leave a bridge behind.
        Assert.Empty(_ovs.Bridges);
        Assert.Equal(FakeOvsSwitch.Delete, _ovs.Calls[^1].Operation);
    }

    [Fact]
    public async Task LanActor_should_answer_a_change_that_arrives_while_it_tears_down()
    {
        var lan = StartLan();
        _ovs.Pause();
        lan.Tell(new Teardown(TestActor));
        await AwaitConditionAsync(() => Task.FromResult(_ovs.CallsTo(FakeOvsSwitch.Delete).Count > 0));
        var late = CreateTestProbe();

        lan.Tell(Members(late, "cxa1n0"));

        await late.ExpectMsgAsync<IClientReply>();
        _ovs.Resume();
        await ExpectMsgAsync<TeardownDone>();
        Assert.Empty(_ovs.CallsTo(FakeOvsSwitch.Apply));
    }

    [Fact]
    public async Task LanActor_should_make_a_vxlan_port_while_the_lan_has_peers_and_remove_it_when_they_go()
    {
        var tunnels = new FakeTunnelPlane();
        var lan = Sys.ActorOf(LanActor.Props(_lan, _ovs, tunnels: tunnels, tunnel: new TunnelSettings("198.18.100.1", 4789, 1450)), "lan-vx");
        lan.Tell(new OvsReady(1));
        lan.Tell(Members(TestActor, "cxa1n0"));
        await ExpectMsgAsync<CommandSucceeded>();
        Assert.Null(tunnels.DeviceOf("cxav7"));

        lan.Tell(new SetTunnel(1000, ["198.18.100.2", "198.18.100.3"]));
        await AwaitConditionAsync(() => Task.FromResult(_ovs.PortsOf(Bridge)?.Contains("cxav7") == true));
        var device = tunnels.DeviceOf("cxav7")!;
        Assert.Equal((1000, 4789, "198.18.100.1", 1450), (device.Vni, device.Port, device.Local, device.Mtu));
        Assert.Equal(["198.18.100.2", "198.18.100.3"], device.Peers.Order(StringComparer.Ordinal));

        lan.Tell(new SetTunnel(1000, ["198.18.100.3"]));
        await AwaitConditionAsync(() => Task.FromResult(tunnels.DeviceOf("cxav7")?.Peers.Count == 1));

        lan.Tell(new SetTunnel(1000, []));
        await AwaitConditionAsync(() => Task.FromResult(tunnels.DeviceOf("cxav7") is null && _ovs.PortsOf(Bridge)?.Contains("cxav7") == false));
        Assert.Equal(["cxa1n0"], _ovs.PortsOf(Bridge));
    }

    [Fact]
    public async Task LanActor_on_a_host_without_an_underlay_makes_no_tunnel()
    {
        var tunnels = new FakeTunnelPlane();
        var lan = Sys.ActorOf(LanActor.Props(_lan, _ovs, tunnels: tunnels, tunnel: TunnelSettings.None), "lan-novx");
        lan.Tell(new OvsReady(1));
        lan.Tell(new SetTunnel(1000, ["198.18.100.2"]));
        lan.Tell(Members(TestActor, "cxa1n0"));
        await ExpectMsgAsync<CommandSucceeded>();
        Assert.Null(tunnels.DeviceOf("cxav7"));
        Assert.Equal(["cxa1n0"], _ovs.PortsOf(Bridge));
    }
}
