using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain.Plans;

/// <summary>One host's part of a request: the command its agent gets.</summary>
public sealed record HostPart(string Host, IClientCommand Command);

/// <summary>A host's answer to its part (or what stands for it: no answer in time, host not reachable).</summary>
public sealed record HostAnswer(string Host, IClientReply Reply);

/// <summary>
/// What a request leaves once its hosts answered: the registry events to record, the client's reply, and
/// the undo: parts that take back what some hosts applied when others refused (sent once the events are
/// recorded; their answers are not waited for).
/// </summary>
public sealed record PlanOutcome(ImmutableArray<IRegistryEvent> Events, IClientReply Reply, ImmutableArray<HostPart> Undo)
{
    public PlanOutcome(IEnumerable<IRegistryEvent> events, IClientReply reply)
        : this([.. events], reply, [])
    {
    }
}

/// <summary>After a round of answers: another round to send, or the outcome.</summary>
public sealed record PlanStep(HostPlan? Next, PlanOutcome? Outcome)
{
    public static PlanStep Then(HostPlan next) => new(next, null);

    public static PlanStep Done(PlanOutcome outcome) => new(null, outcome);

    public static PlanStep Done(IEnumerable<IRegistryEvent> events, IClientReply reply) => new(null, new PlanOutcome(events, reply));
}

/// <summary>
/// The hosts' side of a request, as data: the parts of one round (sent together), and what follows from
/// their answers. Pure: whoever runs it sends the parts, collects the answers and asks <see cref="Answered"/>.
/// </summary>
public abstract record HostPlan
{
    public abstract ImmutableArray<HostPart> Parts { get; }

    /// <summary>Only answers the client: nothing is recorded, no host is held back from reporting.</summary>
    public virtual bool ReadOnly => false;

    /// <summary>The answers of this round's hosts, in the order of <see cref="Parts"/>.</summary>
    public abstract PlanStep Answered(IReadOnlyList<HostAnswer> answers);

    /// <summary>What stands for a host that did not answer within <paramref name="timeout"/>.</summary>
    public virtual IClientReply NoAnswer(TimeSpan timeout) =>
        new CommandFailed(ErrorCode.DataPlane, $"no answer from the host within {timeout.TotalSeconds:0} s; the registry follows the host's next report");

    /// <summary>What stands for a host that is not live when the round starts.</summary>
    public static IClientReply NotReachable(string host) => new CommandFailed(ErrorCode.Unavailable, $"host '{host}' is not reachable");
}

/// <summary>
/// A planned request: refused, or the registry events to record before any host hears of it (names,
/// placements, segments reserved), then either a reply straight away or the <see cref="Hosts"/> to run.
/// </summary>
public sealed record RequestPlan(CommandFailed? Rejection, ImmutableArray<IRegistryEvent> Events, HostPlan? Hosts, IClientReply? Reply)
{
    public static RequestPlan Reject(CommandFailed refusal) => new(refusal, [], null, null);

    public static RequestPlan Reject(ErrorCode code, string message) => Reject(new CommandFailed(code, message));

    public static RequestPlan Run(IEnumerable<IRegistryEvent> events, HostPlan hosts) => new(null, [.. events], hosts, null);

    public static RequestPlan Answer(IEnumerable<IRegistryEvent> events, IClientReply reply) => new(null, [.. events], null, reply);
}

/// <summary>Replies the plans share.</summary>
public static class PlanReplies
{
    /// <summary>With several hosts, a success says where the object went.</summary>
    public static IClientReply OnHost(IClientReply hostReply, string host, bool severalHosts) =>
        hostReply is CommandSucceeded s && severalHosts ? new CommandSucceeded($"{s.Message} on host {host}") : hostReply;

    /// <summary>Null when <paramref name="host"/> is live, else the refusal for a request that needs what it holds.</summary>
    public static CommandFailed? Unreachable(string host, string what, IReadOnlyCollection<string> live) =>
        live.Contains(host) ? null : new CommandFailed(ErrorCode.Unavailable, $"host '{host}' holding {what} is not reachable; retry when it is back");

    /// <summary>The first refusal (naming its host when there were several), else the first answer.</summary>
    public static IClientReply First(IReadOnlyList<HostAnswer> answers) =>
        answers.FirstOrDefault(r => r.Reply is CommandFailed) is { Reply: CommandFailed f } failed
            ? answers.Count > 1 ? f with { Message = $"host {failed.Host}: {f.Message}" } : f
            : answers[0].Reply;
}
