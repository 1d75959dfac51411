using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain.Plans;

/// <summary>
/// `connect`: goes to the node's host; when the lan has no segment there yet, the registry records one and
/// the host first makes the bridge (a host that refuses the bridge takes the segment back out), then connects.
/// </summary>
/// <param name="MakeSegment">This round asks the host for the lan's bridge; the next one connects the nic.</param>
public sealed record ConnectPlan(ConnectNic Command, string Host, bool MakeSegment) : HostPlan
{
    public override ImmutableArray<HostPart> Parts => [new HostPart(Host, MakeSegment ? new AddLan(Command.Lan) : Command)];

    public static RequestPlan Plan(Registry registry, ConnectNic c, IReadOnlyCollection<string> live)
    {
        if (Checks.Node(c.Node, n => registry.HostOf(n) is not null, registry.Lans.ContainsKey) is { } refused)
        {
            return RequestPlan.Reject(refused);
        }

        var host = registry.HostOf(c.Node)!;
        if (Names.Problem(c.Lan, "lan") is { } lanProblem)
        {
            return RequestPlan.Reject(ErrorCode.InvalidArgument, lanProblem);
        }

        if (PlanReplies.Unreachable(host, $"node {c.Node}", live) is { } down)
        {
            return RequestPlan.Reject(down);
        }

        var segment = registry.EnsureSegment(c.Lan, host);
        return segment.Rejection is { } rejected
            ? RequestPlan.Reject(rejected)
            : RequestPlan.Run(segment.Events, new ConnectPlan(c, host, MakeSegment: segment.Events.Length > 0));
    }

    public override PlanStep Answered(IReadOnlyList<HostAnswer> answers)
    {
        var reply = answers[0].Reply;
        if (!MakeSegment)
        {
            return PlanStep.Done([], reply);
        }

        // A bridge the host already has will do; one it could not make yet (DataPlane) it keeps reconciling.
        return reply is CommandFailed { Code: not ErrorCode.AlreadyExists } f
            ? PlanStep.Done(f.Code != ErrorCode.DataPlane ? [new LanSegmentRemoved(Command.Lan, Host)] : [], f)
            : PlanStep.Then(this with { MakeSegment = false });
    }
}
