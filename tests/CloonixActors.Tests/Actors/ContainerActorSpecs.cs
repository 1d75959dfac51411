using Akka.Actor;
using Akka.TestKit;
using CloonixActors.DataPlane;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using CloonixActors.Tests.Fakes;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

public sealed class ContainerActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "container", output)
{
    private const string Host = "host1";

    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private readonly NodeSpec _node = new("n1", 12, NodeKind.Container, [NicKind.Veth, NicKind.Veth, NicKind.Veth]);
    private readonly FakeContainerPlane _plane = new();
    private TestProbe? _parentProbe;

    private string Namespace => OsNames.Namespace(Host, _node.Name);

    private string[] HostIfs => [.. Enumerable.Range(0, _node.Nics).Select(i => OsNames.ContainerHostIf(_node.Id, i))];

    /// <summary>The container actor as a child of a probe, so that what it tells its parent can be checked.</summary>
    private IActorRef StartNode(IActorRef? replyTo) => Parent.ChildActorOf(ContainerActor.Props(_node, Host, _plane, replyTo), "cnt-n1");

    private TestProbe Parent => _parentProbe ??= CreateTestProbe("parent");

    [Fact]
    public async Task ContainerActor_should_create_its_namespace_and_veths_answer_and_tell_its_parent_NodeReady()
    {
        StartNode(TestActor);

        var ok = await ExpectMsgAsync<CommandSucceeded>();
        Assert.Contains("n1", ok.Message, StringComparison.Ordinal);
        var ensure = Assert.Single(_plane.CallsTo(FakeContainerPlane.Ensure));
        Assert.Equal("cxa-host1.n1", ensure.Target);
        Assert.Equal(["cxa12n0:eth0", "cxa12n1:eth1", "cxa12n2:eth2"], ensure.Args);
        var ready = await Parent.ExpectMsgAsync<NodeReady>();
        Assert.Equal("n1", ready.Node);
        Assert.Equal(HostIfs, ready.Recreated);
    }

    [Fact]
    public async Task ContainerActor_should_adopt_an_existing_namespace_and_report_no_recreated_port()
    {
        _plane.Seed(Namespace, HostIfs);

        StartNode(null);

        var ready = await Parent.ExpectMsgAsync<NodeReady>();
        Assert.Empty(ready.Recreated);
        await ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task ContainerActor_should_run_exec_with_the_argv_as_given_and_return_its_result()
    {
        _plane.ExecResponder = (_, argv) => new ProcessResult(argv.Count, "pong\n", "warn\n", false);
        var node = StartNode(TestActor);
        await ExpectMsgAsync<CommandSucceeded>();
        string[] argv = ["ping", "-c", "1", "a b; rm -rf /"];

        node.Tell(new ExecInNode("n1", argv, 7));

        var result = await ExpectMsgAsync<ExecResult>();
        Assert.Equal(new ExecResult(argv.Length, "pong\n", "warn\n", false), result);
        var exec = Assert.Single(_plane.CallsTo(FakeContainerPlane.Exec));
        Assert.Equal(Namespace, exec.Target);
        Assert.Equal(argv, exec.Args);
        Assert.Equal([TimeSpan.FromSeconds(7)], _plane.ExecTimeouts);
    }

    [Fact]
    public async Task ContainerActor_should_answer_CommandFailed_when_exec_fails()
    {
        var node = StartNode(TestActor);
        await ExpectMsgAsync<CommandSucceeded>();
        _plane.Fail(FakeContainerPlane.Exec, "cannot start ip");

        node.Tell(new ExecInNode("n1", ["true"], 5));

        var failed = await ExpectMsgAsync<CommandFailed>();
        Assert.Equal(ErrorCode.DataPlane, failed.Code);
        Assert.Contains("cannot start ip", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContainerActor_should_refuse_exec_until_its_namespace_is_ready()
    {
        _plane.Pause();
        var node = StartNode(null);

        node.Tell(new ExecInNode("n1", ["true"], 5));

        Assert.Equal(ErrorCode.Unavailable, (await ExpectMsgAsync<CommandFailed>()).Code);
        Assert.Empty(_plane.CallsTo(FakeContainerPlane.Exec));
        _plane.Resume();
    }

    [Fact]
    public async Task ContainerActor_should_delete_its_namespace_and_veths_answer_TeardownDone_and_stop_on_Teardown()
    {
        var node = StartNode(TestActor);
        await ExpectMsgAsync<CommandSucceeded>();
        Watch(node);

        node.Tell(new Teardown(TestActor));

        var done = await ExpectMsgAsync<TeardownDone>();
        Assert.Null(done.Error);
        await ExpectTerminatedAsync(node);
        var delete = Assert.Single(_plane.CallsTo(FakeContainerPlane.Delete));
        Assert.Equal(Namespace, delete.Target);
        Assert.Equal(HostIfs, delete.Args);
        Assert.Empty(_plane.Namespaces);
    }

    [Fact]
    public async Task ContainerActor_should_report_a_failed_deletion_and_stop_all_the_same()
    {
        var node = StartNode(TestActor);
        await ExpectMsgAsync<CommandSucceeded>();
        _plane.Fail(FakeContainerPlane.Delete, "ip netns del: busy");
        Watch(node);

        node.Tell(new Teardown(TestActor));

        Assert.Contains("busy", (await ExpectMsgAsync<TeardownDone>()).Error, StringComparison.Ordinal);
        await ExpectTerminatedAsync(node);
    }

    [Fact]
    public async Task ContainerActor_should_finish_creating_before_it_deletes_and_tell_the_creator_it_was_removed()
    {
        _plane.Pause();
        var creator = CreateTestProbe();
        var node = StartNode(creator);
        await AwaitConditionAsync(() => Task.FromResult(_plane.CallsTo(FakeContainerPlane.Ensure).Count > 0));
        Watch(node);

        node.Tell(new Teardown(TestActor));
        _plane.Resume();

        Assert.Equal(ErrorCode.Conflict, (await creator.ExpectMsgAsync<CommandFailed>()).Code);
        Assert.Null((await ExpectMsgAsync<TeardownDone>()).Error);
        await ExpectTerminatedAsync(node);
        Assert.Equal([FakeContainerPlane.Ensure, FakeContainerPlane.Delete], _plane.Calls.Select(c => c.Operation));
        Assert.Empty(_plane.Namespaces);
        await Parent.ExpectNoMsgAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task ContainerActor_should_answer_CommandFailed_when_creation_fails_and_retry_until_it_is_ready()
    {
        _plane.Fail(FakeContainerPlane.Ensure, "ip netns add: permission denied");

        StartNode(TestActor);

        var failed = await ExpectMsgAsync<CommandFailed>();
        Assert.Equal(ErrorCode.DataPlane, failed.Code);
        Assert.Contains("permission denied", failed.Message, StringComparison.Ordinal);
        await Parent.ExpectNoMsgAsync(Quiet);

        _plane.Heal(FakeContainerPlane.Ensure);

        // The first retry comes after about a second of back-off.
        await Parent.ExpectMsgAsync<NodeReady>(TimeSpan.FromSeconds(5));
        Assert.True(_plane.CallsTo(FakeContainerPlane.Ensure).Count >= 2);
    }
}
