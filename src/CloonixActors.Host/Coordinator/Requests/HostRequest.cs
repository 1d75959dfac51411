using System.Collections.Immutable;
using Akka.Actor;
using CloonixActors.Domain.Plans;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Coordinator.Requests;

/// <summary>
/// A request that needs its hosts, run as a child of the coordinator: each round of the
/// <see cref="HostPlan"/> goes to its hosts at once (a <see cref="HostCall"/> per part), and once all have
/// answered the plan says what follows: another round, or the outcome. A read-only plan's reply goes to
/// the client from here; any other outcome goes to the coordinator (<see cref="Concluded"/>), which records
/// its events, then answers the client. The coordinator stays free for other requests meanwhile.
/// </summary>
public sealed class HostRequest : ReceiveActor
{
    private readonly IActorRef _client;
    private readonly IReadOnlyDictionary<string, IActorRef> _agents;
    private readonly TimeSpan _timeout;
    private HostPlan _plan;
    private HostAnswer?[] _answers = [];
    private int _missing;

    /// <param name="agents">The agents of the hosts that were live when the request began; a part for any other host is answered "not reachable".</param>
    public HostRequest(HostPlan plan, IActorRef client, IReadOnlyDictionary<string, IActorRef> agents, TimeSpan timeout)
    {
        _plan = plan;
        _client = client;
        _agents = agents;
        _timeout = timeout;
        Receive<HostCall.Answered>(a =>
        {
            if (_answers[a.Index] is null)
            {
                _answers[a.Index] = a.Answer;
                _missing--;
                Continue();
            }
        });
    }

    public static Props Props(HostPlan plan, IActorRef client, IReadOnlyDictionary<string, IActorRef> agents, TimeSpan timeout) =>
        Akka.Actor.Props.Create(() => new HostRequest(plan, client, agents, timeout));

    /// <summary>A part is sent once: a call that failed is not started again (its host's answer is not waited for).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart() => Send(_plan);

    /// <summary>A request is carried out once: one that failed ends, rather than sending its parts again; the coordinator sees it end.</summary>
    protected override void PostRestart(Exception reason) => Context.Stop(Self);

    private void Send(HostPlan plan)
    {
        _plan = plan;
        var parts = plan.Parts;
        _answers = new HostAnswer?[parts.Length];
        _missing = parts.Length;
        for (var i = 0; i < parts.Length; i++)
        {
            if (_agents.TryGetValue(parts[i].Host, out var agent))
            {
                Context.ActorOf(HostCall.Props(i, parts[i], agent, _timeout, plan.NoAnswer(_timeout)));
            }
            else
            {
                _answers[i] = new HostAnswer(parts[i].Host, HostPlan.NotReachable(parts[i].Host));
                _missing--;
            }
        }

        Continue();
    }

    private void Continue()
    {
        if (_missing > 0)
        {
            return;
        }

        var step = _plan.Answered([.. _answers.Select(a => a!)]);
        if (step.Next is { } next)
        {
            Send(next);
            return;
        }

        var outcome = step.Outcome!;
        if (_plan.ReadOnly)
        {
            _client.Tell(ReplyFrame.Fit(Context.System, outcome.Reply));
        }
        else
        {
            Context.Parent.Tell(new Concluded(_client, outcome));
        }

        Context.Stop(Self);
    }

    /// <summary>The request's outcome, for the coordinator to record and answer <paramref name="Client"/> with.</summary>
    public sealed record Concluded(IActorRef Client, PlanOutcome Outcome);
}
