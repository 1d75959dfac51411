using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain.Plans;

/// <summary>
/// `purge`: every live host purges itself; the registry forgets the nodes and segments of each host that
/// did, then the lans left without a segment. Hosts not live are not purged, and the reply says so.
/// </summary>
/// <param name="Registry">The registry when the purge began: what each purged host held.</param>
public sealed record PurgePlan(Registry Registry, ImmutableArray<string> Hosts) : HostPlan
{
    public override ImmutableArray<HostPart> Parts => [.. Hosts.Select(h => new HostPart(h, new PurgeAll()))];

    public static RequestPlan Plan(Registry registry, IReadOnlyCollection<string> live) =>
        live.Count == 0
            ? RequestPlan.Reject(ErrorCode.Unavailable, "no host is live in the cluster yet")
            : RequestPlan.Run([], new PurgePlan(registry, [.. live]));

    public override PlanStep Answered(IReadOnlyList<HostAnswer> answers)
    {
        var done = answers.Where(r => r.Reply is CommandSucceeded).Select(r => r.Host).ToHashSet(StringComparer.Ordinal);
        var state = Registry;
        var events = new List<IRegistryEvent>();
        foreach (var e in done.SelectMany(h => state.NodesOn(h).Select(n => (IRegistryEvent)new NodeUnplaced(n))
            .Concat(state.SegmentsOn(h).Select(l => (IRegistryEvent)new LanSegmentRemoved(l.Name, h)))).ToList())
        {
            events.Add(e);
            state = state.Apply(e);
        }

        events.AddRange(state.Lans.Values.Where(l => l.Hosts.IsEmpty).Select(l => (IRegistryEvent)new LanUnregistered(l.Name)));
        var away = Registry.Nodes.Values.Concat(Registry.Lans.Values.SelectMany(l => l.Hosts)).Where(h => !Hosts.Contains(h)).Distinct().ToList();
        var reply = answers.Count == 1 && away.Count == 0
            ? answers[0].Reply
            : done.Count == answers.Count
                ? new CommandSucceeded($"purged {done.Count} host(s){(away.Count > 0 ? $"; unreachable, not purged: {string.Join(", ", away)}" : string.Empty)}")
                : PlanReplies.First(answers);
        return PlanStep.Done(events, reply);
    }
}
