using Akka.Actor;
using Akka.TestKit;
using CloonixActors.Host.Actors;
using CloonixActors.Protocol;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

public sealed class ApiActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "api", output)
{
    private const string Secret = "0123456789abcdef";

    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private (IActorRef Api, TestProbe Agent) StartApi()
    {
        var agent = CreateTestProbe("agent");
        return (Sys.ActorOf(ApiActor.Props(Secret, agent), "api"), agent);
    }

    [Theory]
    [InlineData("wrong")]
    [InlineData("")]
    [InlineData("0123456789abcde")]
    [InlineData("0123456789abcdef ")]
    [InlineData("0123456789ABCDEF")]
    public async Task ApiActor_should_refuse_a_wrong_secret_and_forward_nothing(string secret)
    {
        var (api, agent) = StartApi();

        api.Tell(new ClientRequest(secret, new AddLan("lan1")));

        Assert.Equal(ErrorCode.Unauthorized, (await ExpectMsgAsync<CommandFailed>()).Code);
        await agent.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task ApiActor_should_refuse_a_missing_secret()
    {
        var (api, agent) = StartApi();

        api.Tell(new ClientRequest(null!, new ListTopology()));

        Assert.Equal(ErrorCode.Unauthorized, (await ExpectMsgAsync<CommandFailed>()).Code);
        await agent.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task ApiActor_should_forward_the_command_with_the_original_sender_when_the_secret_is_right()
    {
        var (api, agent) = StartApi();
        var command = new ConnectNic("n1", 0, "lan1");

        api.Tell(new ClientRequest(Secret, command));

        Assert.Equal(command, await agent.ExpectMsgAsync<ConnectNic>());
        Assert.Equal(TestActor, agent.LastSender);
        agent.Reply(new CommandSucceeded("connected"));
        await ExpectMsgAsync<CommandSucceeded>();
    }

    [Fact]
    public async Task ApiActor_should_refuse_an_empty_request_and_forward_nothing()
    {
        var (api, agent) = StartApi();

        api.Tell(new ClientRequest(Secret, null!));

        Assert.Equal(ErrorCode.InvalidArgument, (await ExpectMsgAsync<CommandFailed>()).Code);
        await agent.ExpectNoMsgAsync(Quiet);
    }
}
