using Akka.Actor;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Api;

/// <summary>
/// One client request on its way through the lan-coordinator. The singleton proxy drops what it sends
/// to a coordinator that has just died, so the request is sent again until the coordinator acknowledges
/// it (it carries out each request id once); the reply then goes to the client and this actor stops.
/// </summary>
public sealed class RoutedRequest : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan Resend = TimeSpan.FromSeconds(2);

    private readonly IActorRef _coordinator;
    private readonly Routed _request;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef coordinator, Routed request, IActorRef client) =>
        Akka.Actor.Props.Create(() => new RoutedRequest(coordinator, request, client));

    public RoutedRequest(IActorRef coordinator, Routed request, IActorRef client)
    {
        _coordinator = coordinator;
        _request = request;
        Receive<RoutedAck>(a =>
        {
            if (a.RequestId == request.RequestId)
            {
                Timers.Cancel("resend");
            }
        });
        Receive<SendAgain>(_ => _coordinator.Tell(_request));
        Receive<IClientReply>(reply =>
        {
            client.Tell(ReplyFrame.Fit(Context.System, reply));
            Context.Stop(Self);
        });
        Receive<GiveUp>(_ => Context.Stop(Self));
    }

    private sealed record SendAgain
    {
        public static readonly SendAgain Instance = new();
    }

    private sealed record GiveUp
    {
        public static readonly GiveUp Instance = new();
    }

    protected override void PreStart()
    {
        _coordinator.Tell(_request);
        Timers.StartPeriodicTimer("resend", SendAgain.Instance, Resend);
        // The client stops waiting long before this; the actor only must not outlive a lost reply forever.
        var patience = _request.Command is ExecInNode e ? TimeSpan.FromSeconds(Math.Clamp(e.TimeoutSeconds, 1, 3600) + 120) : TimeSpan.FromMinutes(20);
        Timers.StartSingleTimer("give-up", GiveUp.Instance, patience);
    }
}
