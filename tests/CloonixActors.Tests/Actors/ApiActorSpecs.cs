using Akka.Actor;
using Akka.TestKit;
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
    public async Task ApiActor_should_log_a_flood_of_wrong_secrets_as_one_line_per_period_with_a_count()
    {
        var now = new DateTime(2026, 12, 4, 12, 0, 0, DateTimeKind.Utc);
        var agent = CreateTestProbe("flood-agent");
        var api = Sys.ActorOf(ApiActor.Props(Secret, agent, clock: () => now), "api-flood");

        // Fifty wrong secrets within one period: every one refused, one warning.
        await EventFilter.Warning(contains: "wrong secret").ExpectOneAsync(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                api.Tell(new ClientRequest($"guess{i}", new ListTopology()));
                Assert.Equal(ErrorCode.Unauthorized, (await ExpectMsgAsync<CommandFailed>()).Code);
            }
        });

        // The next period's first one says how many were left out.
        now += ApiActor.WrongSecretLogPeriod;
        await EventFilter.Warning(contains: "49 more like it").ExpectOneAsync(async () =>
        {
            api.Tell(new ClientRequest("guess", new ListTopology()));
            await ExpectMsgAsync<CommandFailed>();
        });
        await agent.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task ApiActor_should_give_a_capture_a_proxy_as_receiver_and_the_client_as_its_only_reader()
    {
        var (api, agent) = StartApi();
        var client = CreateTestProbe("reader");

        api.Tell(new ClientRequest(Secret, new StartCapture("vm1", 0, client.Ref)));

        var start = await agent.ExpectMsgAsync<StartCapture>();
        Assert.NotEqual(client.Ref, start.Receiver);
        Assert.Equal(client.Ref, start.Reader);
        start.Receiver.Tell(new CaptureChunk(1, [7]));
        Assert.Equal([7], (await client.ExpectMsgAsync<CaptureChunk>()).Data);
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

    [Fact]
    public async Task ApiActor_should_route_topology_commands_listings_and_exec_through_the_coordinator()
    {
        var agent = CreateTestProbe("agent2");
        var coordinator = CreateTestProbe("coordinator");
        var api = Sys.ActorOf(ApiActor.Props(Secret, agent, coordinator, "h1"), "api-routed");

        foreach (IClientCommand command in new IClientCommand[] { new AddContainer("n1", 1, "h2"), new ListTopology(), new ExecInNode("n1", ["true"], 5) })
        {
            api.Tell(new ClientRequest(Secret, command));
            var routed = await coordinator.ExpectMsgAsync<Routed>();
            Assert.Equal(command, routed.Command);
            Assert.Equal("h1", routed.ViaHost);

            // Not acknowledged: sent again, same id (the coordinator carries out an id once).
            Assert.Equal(routed, await coordinator.ExpectMsgAsync<Routed>(TimeSpan.FromSeconds(5)));
            coordinator.Reply(new RoutedAck(routed.RequestId));
            coordinator.Reply(new CommandSucceeded("done"));
            Assert.Equal("done", (await ExpectMsgAsync<CommandSucceeded>()).Message);
            await coordinator.ExpectNoMsgAsync(TimeSpan.FromSeconds(2.5));
        }

        api.Tell(new ClientRequest(Secret, new BuildImage("tiny")));
        await agent.ExpectMsgAsync<BuildImage>();
        await coordinator.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task ApiActor_should_answer_status_with_the_hosts_and_the_coordinator()
    {
        var agent = CreateTestProbe("agent3");
        var coordinator = CreateTestProbe("coordinator3");
        var api = Sys.ActorOf(ApiActor.Props(Secret, agent, coordinator, "h1"), "api-status");

        api.Tell(new ClientRequest(Secret, new GetStatus()));
        await agent.ExpectMsgAsync<GetStatus>();
        agent.Reply(new StatusReport("h1", "/s", "sqlite", TimeSpan.Zero, "netdev", [], [], 0, 0, 0, "TCG"));
        await coordinator.ExpectMsgAsync<GetCoordinatorView>();
        coordinator.Reply(new CoordinatorView("h2", "akka.tcp://cloonix@198.18.100.2:45300", [new HostView("h1", "a", "live", "198.18.100.1", 0, 0)], 0));

        var report = await ExpectMsgAsync<StatusReport>();
        Assert.StartsWith("h2 ", report.Coordinator, StringComparison.Ordinal);
        Assert.Equal("h1", Assert.Single(report.Hosts!).Name);
    }
}
