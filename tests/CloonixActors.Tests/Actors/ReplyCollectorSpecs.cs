using Akka.Actor;
using CloonixActors.Protocol;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

public sealed class ReplyCollectorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "collector", output)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    private IActorRef StartCollector(int parts, TimeSpan timeout, Action<IActorRef>? then = null)
    {
        var collector = Sys.ActorOf(ReplyCollector.Props(parts, TestActor, "all done", timeout, then));
        Watch(collector);
        return collector;
    }

    [Fact]
    public async Task ReplyCollector_should_answer_one_success_once_every_part_has_answered()
    {
        var collector = StartCollector(3, Long);

        collector.Tell(new CommandSucceeded("lan applied"));
        collector.Tell(new TeardownDone("node n1", null));
        await ExpectNoMsgAsync(Quiet);
        collector.Tell(new CommandSucceeded("node ready"));

        Assert.Equal(new CommandSucceeded("all done"), await ExpectMsgAsync<CommandSucceeded>());
        await ExpectTerminatedAsync(collector);
    }

    [Fact]
    public async Task ReplyCollector_should_answer_the_first_failure_once_every_part_has_answered()
    {
        var collector = StartCollector(3, Long);

        collector.Tell(new CommandSucceeded("lan applied"));
        collector.Tell(new CommandFailed(ErrorCode.DataPlane, "bridge cxab1 not applied"));
        await ExpectNoMsgAsync(Quiet);
        collector.Tell(new CommandFailed(ErrorCode.DataPlane, "second failure"));

        Assert.Equal(new CommandFailed(ErrorCode.DataPlane, "bridge cxab1 not applied"), await ExpectMsgAsync<CommandFailed>());
        await ExpectTerminatedAsync(collector);
    }

    [Fact]
    public async Task ReplyCollector_should_turn_a_failed_teardown_into_CommandFailed()
    {
        var collector = StartCollector(2, Long);

        collector.Tell(new TeardownDone("lan lan1", "ovs-vsctl: no connection"));
        collector.Tell(new TeardownDone("node n1", null));

        var failed = await ExpectMsgAsync<CommandFailed>();
        Assert.Contains("lan lan1", failed.Message, StringComparison.Ordinal);
        Assert.Contains("no connection", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReplyCollector_should_answer_CommandFailed_when_a_part_does_not_answer_in_time()
    {
        var collector = StartCollector(2, TimeSpan.FromMilliseconds(300));

        collector.Tell(new CommandSucceeded("lan applied"));

        var failed = await ExpectMsgAsync<CommandFailed>(TimeSpan.FromSeconds(3));
        Assert.Equal(ErrorCode.DataPlane, failed.Code);
        Assert.Contains("did not confirm", failed.Message, StringComparison.Ordinal);
        await ExpectTerminatedAsync(collector);
    }

    [Fact]
    public async Task ReplyCollector_should_answer_success_at_once_when_there_is_no_part()
    {
        var collector = StartCollector(0, Long);

        Assert.Equal(new CommandSucceeded("all done"), await ExpectMsgAsync<CommandSucceeded>());
        await ExpectTerminatedAsync(collector);
    }

    [Fact]
    public async Task ReplyCollector_should_hand_the_client_to_its_continuation_instead_of_answering()
    {
        var continuation = CreateTestProbe();
        var collector = StartCollector(1, Long, client => continuation.Tell(client));

        collector.Tell(new CommandSucceeded("lan applied"));

        Assert.Equal(TestActor, await continuation.ExpectMsgAsync<IActorRef>());
        await ExpectTerminatedAsync(collector);
    }

    [Fact]
    public async Task ReplyCollector_should_answer_a_failure_itself_and_skip_its_continuation()
    {
        var continuation = CreateTestProbe();
        var collector = StartCollector(1, Long, client => continuation.Tell(client));

        collector.Tell(new CommandFailed(ErrorCode.DataPlane, "no"));

        await ExpectMsgAsync<CommandFailed>();
        await ExpectTerminatedAsync(collector);
        await continuation.ExpectNoMsgAsync(TimeSpan.Zero);
    }
}
