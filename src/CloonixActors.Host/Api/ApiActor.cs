using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using CloonixActors.Protocol;
using CloonixActors.Protocol.Wire;

namespace CloonixActors.Host.Api;

/// <summary>
/// The service the console client reaches through ClusterClient (<c>/user/api</c>). It checks the shared
/// secret of every request, then hands the command on: to the lan-coordinator (topology commands, listings,
/// exec: anything that must find the right host), or to this host's agent (status, image builds). Whoever
/// gets it answers the client directly. Without a coordinator every command goes to the host agent.
/// </summary>
public sealed class ApiActor : ReceiveActor
{
    /// <summary>At most one wrong-secret warning per period, with the count of the ones left out.</summary>
    public static readonly TimeSpan WrongSecretLogPeriod = TimeSpan.FromSeconds(10);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LogThrottle _wrongSecrets;

    /// <param name="clock">The time source of the wrong-secret log throttle (tests); the UTC clock by default.</param>
    public static Props Props(string secret, IActorRef hostAgent, IActorRef? coordinator = null, string hostName = "", Func<DateTime>? clock = null) =>
        Akka.Actor.Props.Create(() => new ApiActor(secret, hostAgent, coordinator, hostName, clock));

    public ApiActor(string secret, IActorRef hostAgent, IActorRef? coordinator, string hostName, Func<DateTime>? clock)
    {
        _wrongSecrets = new LogThrottle(WrongSecretLogPeriod, clock);
        var expected = Encoding.UTF8.GetBytes(secret);
        Receive<ClientRequest>(request =>
        {
            var given = Encoding.UTF8.GetBytes(request.Secret ?? string.Empty);
            if (!CryptographicOperations.FixedTimeEquals(given, expected))
            {
                // A flood of wrong secrets costs the log one line per period.
                if (_wrongSecrets.ShouldLog(out var suppressed))
                {
                    _log.Warning("refused a request with a wrong secret from {0}{1}", Sender.Path.Address, LogThrottle.Suffix(suppressed, WrongSecretLogPeriod));
                }

                Sender.Tell(new CommandFailed(ErrorCode.Unauthorized, "wrong secret: use the secret file of the cluster (--secret-file or --state-dir)"));
                return;
            }

            if (request.Command is null)
            {
                Sender.Tell(new CommandFailed(ErrorCode.InvalidArgument, "empty request"));
                return;
            }

            if (request.Command is SubscribeEvents subscribe)
            {
                // The traffic topic is cluster-wide: any host can serve a subscription.
                if (subscribe.Receiver is null || subscribe.Receiver.IsNobody())
                {
                    Sender.Tell(new CommandFailed(ErrorCode.InvalidArgument, "a subscription needs a receiver"));
                    return;
                }

                var session = Context.ActorOf(EventsSession.Props(subscribe.Receiver), $"events-{Guid.NewGuid():N}");
                Sender.Tell(new EventsSubscribed(session));
                return;
            }

            var command = request.Command;
            if (command is StartCapture { Receiver: { } receiver } capture && !receiver.IsNobody())
            {
                // The relay may run on another host, which may not reach the client: the pcap chunks come
                // back through this host, which the client reached (and whose connection it answers on).
                // The session takes acknowledgements and the stop from the client's own actor only (Reader).
                var proxy = Context.ActorOf(StreamProxy.Props(receiver), $"capture-{Guid.NewGuid():N}");
                command = capture with { Receiver = proxy, Reader = receiver };
            }

            switch (command)
            {
                case var _ when coordinator is null:
                case BuildImage:
                    hostAgent.Forward(command);
                    break;
                case GetStatus status:
                    Status(status, hostAgent, coordinator);
                    break;
                default:
                    Context.ActorOf(RoutedRequest.Props(coordinator, new Routed(command, hostName, Guid.NewGuid().ToString("N")), Sender));
                    break;
            }
        });
    }

    /// <summary>This host's status, with the cluster's hosts and where the coordinator runs.</summary>
    private void Status(GetStatus status, IActorRef hostAgent, IActorRef coordinator)
    {
        var client = Sender;
        var local = hostAgent.Ask<StatusReport>(status, TimeSpan.FromSeconds(10));
        var view = coordinator.Ask<CoordinatorView>(new GetCoordinatorView(), TimeSpan.FromSeconds(5));
        Task.WhenAll(local, view).ContinueWith(
            _ =>
            {
                if (!local.IsCompletedSuccessfully)
                {
                    return (object)new CommandFailed(ErrorCode.Unavailable, "this host's agent did not answer (it may be restarting)");
                }

                return view.IsCompletedSuccessfully
                    ? local.Result with { Coordinator = $"{view.Result.Host} ({view.Result.Address})", Hosts = view.Result.Hosts, CoordinatorJournal = view.Result.Journal }
                    : local.Result with { Coordinator = "not reachable now (moving to another host?)", Hosts = [] };
            },
            TaskScheduler.Default).PipeTo(client);
    }
}

/// <summary>
/// One client's event stream: subscribed to the cluster's traffic topic, it passes every event on to the
/// client's receiver, and ends when the receiver goes away or stops sending keep-alives.
/// </summary>
public sealed class EventsSession : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan Silence = TimeSpan.FromSeconds(10);
    private readonly MemberGate _gate = new(Context);
    private readonly IActorRef _receiver;
    private DateTime _heard = DateTime.UtcNow;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// Traffic only from the cluster's hosts (through the pub-sub mediator, which passes the publishing
    /// relay on as the sender); keep-alives only from the client's receiver (its sender).
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message) =>
        (message is EventsKeepAlive ? !Sender.Equals(_receiver) : _gate.Refuses(message, Sender)) || base.AroundReceive(receive, message);

    public static Props Props(IActorRef receiver) => Akka.Actor.Props.Create(() => new EventsSession(receiver));

    public EventsSession(IActorRef receiver)
    {
        _receiver = receiver;
        Context.Watch(receiver);
        Receive<NicTraffic>(t => receiver.Tell(t));
        Receive<SubscribeAck>(_ => { });
        Receive<EventsKeepAlive>(_ => _heard = DateTime.UtcNow);
        Receive<Terminated>(_ => Context.Stop(Self));
        Receive<CheckSilence>(_ =>
        {
            if (DateTime.UtcNow - _heard > Silence)
            {
                Context.Stop(Self);
            }
        });
    }

    private sealed record CheckSilence;

    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(SpyActor.TrafficTopic, Self));
        Timers.StartPeriodicTimer("silence", new CheckSilence(), TimeSpan.FromSeconds(2));
    }
}

/// <summary>
/// Passes a capture's stream on to the client's receiver, from whichever host the relay runs on; stops
/// after the capture's summary or when the client goes away.
/// </summary>
public sealed class StreamProxy : ReceiveActor
{
    private readonly MemberGate _gate = new(Context);

    /// <summary>The stream only from the cluster's hosts: a stranger's chunks never reach the client.</summary>
    protected override bool AroundReceive(Receive receive, object message) => _gate.Refuses(message, Sender) || base.AroundReceive(receive, message);

    public static Props Props(IActorRef receiver) => Akka.Actor.Props.Create(() => new StreamProxy(receiver));

    public StreamProxy(IActorRef receiver)
    {
        Context.Watch(receiver);
        Receive<Terminated>(_ => Context.Stop(Self));
        Receive<CaptureStopped>(s =>
        {
            receiver.Tell(s, Sender);
            Context.Stop(Self);
        });
        ReceiveAny(m => receiver.Tell(m, Sender));
    }
}
