using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Akka.Hosting;
using CloonixActors.Domain;
using CloonixActors.Host;
using CloonixActors.Protocol;
using CloonixActors.Tests.Fakes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

/// <summary>
/// A whole cloonixd host composed as the daemon composes it (<see cref="HostingExtensions.AddCloonixHost(AkkaConfigurationBuilder, CloonixHostOptions, Func{Config, HostPlane}, Action?)"/>
/// in a generic host), on the data-plane fakes, with its SQLite journal in a temporary state dir and TLS off.
/// This TestKit's own system is the console client: remoting only, a ClusterClient to the host's receptionist.
/// </summary>
public sealed class ComposedHostSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(ClientConfig, "cloonix-cli", output), IAsyncLifetime
{
    private const string HostName = "h1";

    private static readonly Config ClientConfig = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = off")
        .WithFallback(TestConfig.Load("client.conf"))
        .WithFallback(TestConfig.Load("base.conf"))
        .WithFallback(DistributedPubSub.DefaultConfig());

    private static readonly TimeSpan Reply = TimeSpan.FromSeconds(20);

    private readonly string _stateDir = Directory.CreateTempSubdirectory("cxa-composed-").FullName;
    private readonly FakeOvsSwitch _ovs = new();
    private readonly FakeContainerPlane _containers = new();
    private IHost _host = null!;
    private ActorSystem _hostSystem = null!;
    private IActorRef _client = ActorRefs.Nobody;
    private string _secret = string.Empty;

    public async Task InitializeAsync()
    {
        var port = FreePort();
        var configFile = Path.Combine(_stateDir, "test.conf");
        await File.WriteAllTextAsync(configFile, "akka.remote.dot-netty.tcp.enable-ssl = off\n");
        var options = new CloonixHostOptions { StateDir = _stateDir, HostName = HostName, BindHost = "127.0.0.1", BindPort = port, ConfigFile = configFile };

        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAkka(CloonixHostOptions.SystemName, (akka, _) => akka.AddCloonixHost(options, _ => new HostPlane(_ovs, _containers, Props.Create(() => new FakeOvsActor()), "netdev")));
        _host = builder.Build();
        await _host.StartAsync();
        _hostSystem = _host.Services.GetRequiredService<ActorSystem>();

        _secret = SecretFile.LoadOrCreate(_stateDir);
        var receptionist = ActorPath.Parse($"akka.tcp://{CloonixHostOptions.SystemName}@127.0.0.1:{port}/system/receptionist");
        _client = Sys.ActorOf(ClusterClient.Props(ClusterClientSettings.Create(Sys).WithInitialContacts(ImmutableHashSet.Create(receptionist))), "client");
    }

    public async Task DisposeAsync()
    {
        if (!_hostSystem.WhenTerminated.IsCompleted)
        {
            await _host.StopAsync();
        }

        _host.Dispose();
        Directory.Delete(_stateDir, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>What the console client does: the command in a request with the secret, sent to /user/api through the receptionist.</summary>
    private async Task<T> Ask<T>(IClientCommand command)
        where T : IClientReply
    {
        _client.Tell(new ClusterClient.Send("/user/api", new ClientRequest(_secret, command), localAffinity: true), TestActor);
        return await ExpectMsgAsync<T>(Reply);
    }

    private async Task<IActorRef> Resolve(string path) =>
        await _hostSystem.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(5));

    /// <summary>The actor at <paramref name="path"/> once it is there again and not <paramref name="stopped"/>.</summary>
    private async Task<IActorRef> AwaitRestarted(string path, IActorRef stopped)
    {
        var probe = CreateTestProbe(_hostSystem);
        IActorRef? next = null;
        await AwaitConditionAsync(
            async () =>
            {
                _hostSystem.ActorSelection(path).Tell(new Identify(path), probe.Ref);
                next = (await probe.ExpectMsgAsync<ActorIdentity>()).Subject;
                return next is not null && !next.Equals(stopped);
            },
            TimeSpan.FromSeconds(15),
            TimeSpan.FromMilliseconds(200));
        return next!;
    }

    private async Task Stop(IActorRef actor)
    {
        var probe = CreateTestProbe(_hostSystem);
        probe.Watch(actor);
        actor.Tell(PoisonPill.Instance);
        await probe.ExpectTerminatedAsync(actor);
    }

    [Fact]
    public async Task A_client_command_goes_through_the_api_and_the_coordinator_to_the_agent_and_back()
    {
        Assert.StartsWith("lan lan1 added", (await Ask<CommandSucceeded>(new AddLan("lan1"))).Message, StringComparison.Ordinal);
        Assert.StartsWith("container n1 added", (await Ask<CommandSucceeded>(new AddContainer("n1", 1))).Message, StringComparison.Ordinal);
        await Ask<CommandSucceeded>(new ConnectNic("n1", 0, "lan1"));

        var listing = await Ask<TopologyListing>(new ListTopology());

        var lan = Assert.Single(listing.Lans);
        Assert.Equal(("lan1", HostName), (lan.Name, lan.Host));
        Assert.Equal(["n1/0"], lan.Members);
        Assert.Equal(("n1", HostName), (Assert.Single(listing.Nodes).Name, listing.Nodes[0].Host));
        // The agent drove its data plane: the node's namespace and the lan's bridge exist.
        Assert.Equal([OsNames.Namespace(HostName, "n1")], _containers.Namespaces);
        Assert.Contains(lan.Bridge, _ovs.Bridges);
    }

    [Fact]
    public async Task A_wrong_secret_is_refused_at_the_api_and_reaches_no_agent()
    {
        _secret = "not-the-secret";

        Assert.Equal(ErrorCode.Unauthorized, (await Ask<CommandFailed>(new AddContainer("n1", 1))).Code);
        Assert.Empty(_containers.CallsTo(FakeContainerPlane.Ensure));
    }

    [Fact]
    public async Task The_coordinator_singleton_answers_at_the_paths_every_host_agrees_on()
    {
        var registry = ActorRegistry.For(_hostSystem);
        var proxy = registry.Get<LanCoordinatorKey>();
        Assert.Equal("/user/lan-coordinator-proxy", proxy.Path.ToStringWithoutAddress());
        Assert.Equal("/user/host", registry.Get<HostAgentKey>().Path.ToStringWithoutAddress());
        Assert.Equal("/user/api", registry.Get<CloonixApiKey>().Path.ToStringWithoutAddress());

        var probe = CreateTestProbe(_hostSystem);
        proxy.Tell(new Routed(new ListTopology(), HostName, "r1"), probe.Ref);

        var ack = await probe.ExpectMsgAsync<RoutedAck>(Reply);
        Assert.Equal("r1", ack.RequestId);
        // The one that acknowledged is the singleton, under its manager's back-off supervisor.
        Assert.Equal("/user/lan-coordinator/singleton/coordinator", probe.LastSender.Path.ToStringWithoutAddress());
        // A coordinator still waiting for the hosts' hellos holds the request and acknowledges it again when it takes it up.
        Assert.Empty(((TopologyListing)await probe.FishForMessageAsync(m => m is TopologyListing || (m is RoutedAck { RequestId: not "r1" }), Reply)).Lans);
    }

    [Fact]
    public async Task A_stopped_coordinator_and_a_stopped_agent_come_back_under_back_off_with_their_journal()
    {
        await Ask<CommandSucceeded>(new AddLan("lan1"));
        await Ask<CommandSucceeded>(new AddContainer("n1", 1));

        const string coordinatorPath = "/user/lan-coordinator/singleton/coordinator";
        var coordinator = await Resolve(coordinatorPath);
        await Stop(coordinator);
        await AwaitRestarted(coordinatorPath, coordinator);

        const string agentPath = "/user/host/agent";
        var agent = await Resolve(agentPath);
        await Stop(agent);
        await AwaitRestarted(agentPath, agent);

        // Both recovered from the SQLite journal: the coordinator knows the names, the agent holds the node.
        Assert.Equal(ErrorCode.AlreadyExists, (await Ask<CommandFailed>(new AddLan("lan1"))).Code);
        var listing = await Ask<TopologyListing>(new ListTopology());
        Assert.Equal(["n1"], listing.Nodes.Select(n => n.Name));
        Assert.Equal(["lan1"], listing.Lans.Select(l => l.Name));
    }

    [Fact]
    public async Task A_clean_stop_of_the_host_removes_its_data_plane()
    {
        await Ask<CommandSucceeded>(new AddLan("lan1"));
        await Ask<CommandSucceeded>(new AddContainer("n1", 1));
        await Ask<CommandSucceeded>(new ConnectNic("n1", 0, "lan1"));
        Assert.NotEmpty(_containers.Namespaces);

        await _host.StopAsync();

        Assert.Empty(_containers.Namespaces);
        Assert.Empty(_ovs.Bridges);
        Assert.True(_hostSystem.WhenTerminated.IsCompleted);
    }

    /// <summary>Stands in for <see cref="OvsActor"/>: OVS is up at once, and stops when told.</summary>
    private sealed class FakeOvsActor : ReceiveActor
    {
        public FakeOvsActor()
        {
            Receive<GetOvsInfo>(_ => Sender.Tell(new OvsInfo(true, 101, 102, 0, 0, "netdev", null)));
            Receive<StopOvs>(_ => Sender.Tell(new TeardownDone("ovs", null)));
        }

        protected override void PreStart() => Context.Parent.Tell(new OvsReady(1));
    }
}
