using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Actors;

/// <summary>
/// The service the console client reaches through ClusterClient (<c>/user/api</c>). It checks the shared
/// secret of every request, then hands the command to the host agent, which answers the client directly.
/// </summary>
public sealed class ApiActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public static Props Props(string secret, IActorRef hostAgent) =>
        Akka.Actor.Props.Create(() => new ApiActor(secret, hostAgent));

    public ApiActor(string secret, IActorRef hostAgent)
    {
        var expected = Encoding.UTF8.GetBytes(secret);
        Receive<ClientRequest>(request =>
        {
            var given = Encoding.UTF8.GetBytes(request.Secret ?? string.Empty);
            if (!CryptographicOperations.FixedTimeEquals(given, expected))
            {
                _log.Warning("refused a request with a wrong secret from {0}", Sender.Path.Address);
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
                if (subscribe.Receiver is null || subscribe.Receiver.IsNobody())
                {
                    Sender.Tell(new CommandFailed(ErrorCode.InvalidArgument, "a subscription needs a receiver"));
                    return;
                }

                var session = Context.ActorOf(EventsSession.Props(subscribe.Receiver), $"events-{Guid.NewGuid():N}");
                Sender.Tell(new EventsSubscribed(session));
                return;
            }

            hostAgent.Forward(request.Command);
        });
    }
}

/// <summary>
/// One client's event stream: subscribed to the cluster's traffic topic, it passes every event on to the
/// client's receiver, and ends when the receiver goes away or stops sending keep-alives.
/// </summary>
public sealed class EventsSession : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan Silence = TimeSpan.FromSeconds(10);
    private DateTime _heard = DateTime.UtcNow;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef receiver) => Akka.Actor.Props.Create(() => new EventsSession(receiver));

    public EventsSession(IActorRef receiver)
    {
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
