using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain.Plans;

/// <summary>
/// `delete`: a node goes to its host and leaves the registry once the host removed it; a lan goes to every
/// host with a segment of it, each segment removed leaves the registry, and the lan once all are gone.
/// </summary>
public static class DeletePlan
{
    public static RequestPlan Plan(Registry registry, DeleteObject c, IReadOnlyCollection<string> live)
    {
        if (Names.Problem(c.Name, "object") is { } problem)
        {
            return RequestPlan.Reject(ErrorCode.InvalidArgument, problem);
        }

        if (registry.HostOf(c.Name) is { } host)
        {
            return PlanReplies.Unreachable(host, $"node {c.Name}", live) is { } down
                ? RequestPlan.Reject(down)
                : RequestPlan.Run([], new DeleteNodePlan(c, host));
        }

        if (!registry.Lans.TryGetValue(c.Name, out var lan))
        {
            return RequestPlan.Reject(ErrorCode.NotFound, $"no node or lan named '{c.Name}'");
        }

        if (lan.Hosts.FirstOrDefault(h => !live.Contains(h)) is { } away)
        {
            return RequestPlan.Reject(PlanReplies.Unreachable(away, $"a segment of lan {c.Name}", live)!);
        }

        return RequestPlan.Run([], new DeleteLanPlan(c, [.. lan.Hosts]));
    }
}

/// <summary>A node's deletion on its host.</summary>
public sealed record DeleteNodePlan(DeleteObject Command, string Host) : HostPlan
{
    public override ImmutableArray<HostPart> Parts => [new HostPart(Host, Command)];

    public override PlanStep Answered(IReadOnlyList<HostAnswer> answers) => answers[0].Reply is CommandSucceeded
        ? PlanStep.Done([new NodeUnplaced(Command.Name)], answers[0].Reply)
        : PlanStep.Done([], answers[0].Reply);
}

/// <summary>A lan's deletion on every host with a segment of it (none: the lan only leaves the registry).</summary>
public sealed record DeleteLanPlan(DeleteObject Command, ImmutableArray<string> Hosts) : HostPlan
{
    public override ImmutableArray<HostPart> Parts => [.. Hosts.Select(h => new HostPart(h, Command))];

    public override PlanStep Answered(IReadOnlyList<HostAnswer> answers)
    {
        // A host that no longer has the segment (NotFound) has it removed as much as one that just removed it.
        var removed = answers.Where(r => r.Reply is CommandSucceeded or CommandFailed { Code: ErrorCode.NotFound }).Select(r => r.Host).ToList();
        var events = removed.Select(h => (IRegistryEvent)new LanSegmentRemoved(Command.Name, h)).ToList();
        if (removed.Count == answers.Count)
        {
            events.Add(new LanUnregistered(Command.Name));
            return PlanStep.Done(events, new CommandSucceeded($"{Command.Name} deleted"));
        }

        return PlanStep.Done(events, PlanReplies.First(answers));
    }
}
