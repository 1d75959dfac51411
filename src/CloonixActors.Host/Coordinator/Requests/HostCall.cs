using Akka.Actor;
using CloonixActors.Domain.Plans;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Coordinator.Requests;

/// <summary>
/// One host's part of a request: sends the command to the host's agent and tells its parent the answer,
/// or what stands for it when none comes in time. One actor per part, so each answer is known to be that
/// host's whoever on the host sends it (an agent hands some commands on to a node's or lan's actor).
/// </summary>
public sealed class HostCall : ReceiveActor, IWithTimers
{
    private readonly HostPart _part;
    private readonly IActorRef _agent;
    private readonly TimeSpan _timeout;

    public HostCall(int index, HostPart part, IActorRef agent, TimeSpan timeout, IClientReply noAnswer)
    {
        _part = part;
        _agent = agent;
        _timeout = timeout;
        Receive<IClientReply>(reply => Answer(new Answered(index, new HostAnswer(part.Host, reply))));
        Receive<NoAnswer>(_ => Answer(new Answered(index, new HostAnswer(part.Host, noAnswer))));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(int index, HostPart part, IActorRef agent, TimeSpan timeout, IClientReply noAnswer) =>
        Akka.Actor.Props.Create(() => new HostCall(index, part, agent, timeout, noAnswer));

    protected override void PreStart()
    {
        // With this actor as the sender: an agent refuses what comes without one (MemberGate), and answers here.
        _agent.Tell(_part.Command, Self);
        Timers.StartSingleTimer(nameof(NoAnswer), NoAnswer.Instance, _timeout);
    }

    private void Answer(Answered answered)
    {
        Context.Parent.Tell(answered);
        Context.Stop(Self);
    }

    /// <summary>The answer to part <paramref name="Index"/> of the round.</summary>
    public sealed record Answered(int Index, HostAnswer Answer);

    private sealed record NoAnswer
    {
        public static readonly NoAnswer Instance = new();
    }
}
