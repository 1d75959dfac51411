using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain.Plans;

/// <summary>`add lan` with a first segment: the host makes the bridge; a host that refuses it takes the lan back out of the registry.</summary>
public sealed record AddLanPlan(string Lan, string Host, bool SeveralHosts) : HostPlan
{
    public override ImmutableArray<HostPart> Parts => [new HostPart(Host, new AddLan(Lan))];

    /// <summary>Registers the lan (with a segment on the named or only live host, see <see cref="Registry.AddLan"/>).</summary>
    public static RequestPlan Plan(Registry registry, AddLan c, IReadOnlyCollection<string> live, bool severalHosts)
    {
        var decision = registry.AddLan(c.Name, c.Host, live);
        if (decision.Rejection is { } rejected)
        {
            return RequestPlan.Reject(rejected);
        }

        var events = decision.Events;
        return events.Length < 2
            ? RequestPlan.Answer(events, new CommandSucceeded($"lan {c.Name} added (VXLAN id {((LanRegistered)events[0]).Vni}); its bridges appear on the hosts of its members"))
            : RequestPlan.Run(events, new AddLanPlan(c.Name, ((LanSegmentAdded)events[1]).Host, severalHosts));
    }

    // A host that recorded its part but could not apply all of it yet (DataPlane) keeps reconciling: not a refusal.
    public override PlanStep Answered(IReadOnlyList<HostAnswer> answers) => answers[0].Reply is CommandFailed { Code: not ErrorCode.DataPlane } f
        ? PlanStep.Done([new LanSegmentRemoved(Lan, Host), new LanUnregistered(Lan)], f)
        : PlanStep.Done([], PlanReplies.OnHost(answers[0].Reply, Host, SeveralHosts));
}

/// <summary>`add container` / `add vm`: the name is placed first; a host that refuses the node frees the name.</summary>
public sealed record PlaceNodePlan(string Node, string Host, IClientCommand Command, bool SeveralHosts) : HostPlan
{
    public override ImmutableArray<HostPart> Parts => [new HostPart(Host, Command)];

    /// <summary>Places <paramref name="node"/> on <paramref name="host"/> or the least loaded live host; that host gets <paramref name="command"/>.</summary>
    public static RequestPlan Plan(Registry registry, string node, string? host, IClientCommand command, IReadOnlyCollection<string> live, bool severalHosts)
    {
        var decision = registry.PlaceNode(node, host, live);
        return decision.Rejection is { } rejected
            ? RequestPlan.Reject(rejected)
            : RequestPlan.Run(decision.Events, new PlaceNodePlan(node, ((NodePlaced)decision.Events[0]).Host, command, severalHosts));
    }

    public override PlanStep Answered(IReadOnlyList<HostAnswer> answers) => answers[0].Reply is CommandFailed f && f.Code != ErrorCode.DataPlane
        ? PlanStep.Done([new NodeUnplaced(Node)], f)
        : PlanStep.Done([], PlanReplies.OnHost(answers[0].Reply, Host, SeveralHosts));
}

/// <summary>Where a command for one node goes (exec, disconnect, captures): the node's host, when it is live.</summary>
public static class NodeRoute
{
    /// <summary>The host of <paramref name="node"/>, or the refusal (no such node, or its host is not live).</summary>
    public static (string? Host, CommandFailed? Rejection) Of(Registry registry, string node, IReadOnlyCollection<string> live)
    {
        if (Checks.Node(node, n => registry.HostOf(n) is not null, registry.Lans.ContainsKey) is { } refused)
        {
            return (null, refused);
        }

        var host = registry.HostOf(node)!;
        return PlanReplies.Unreachable(host, $"node {node}", live) is { } down ? (null, down) : (host, null);
    }
}
