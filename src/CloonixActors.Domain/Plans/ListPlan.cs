using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain.Plans;

/// <summary>
/// `list`: every live host lists its part; the registry adds the nodes of hosts not live (as unreachable),
/// the lans' VXLAN ids and the lans without a segment. A host that does not answer in time lists nothing.
/// </summary>
public sealed record ListPlan(Registry Registry, ImmutableArray<string> Live) : HostPlan
{
    public override ImmutableArray<HostPart> Parts => [.. Live.Select(h => new HostPart(h, new ListTopology()))];

    public override bool ReadOnly => true;

    public override IClientReply NoAnswer(TimeSpan timeout) => new TopologyListing([], []);

    public override PlanStep Answered(IReadOnlyList<HostAnswer> answers)
    {
        if (answers.Select(a => a.Reply).OfType<CommandFailed>().FirstOrDefault() is { } failed)
        {
            return PlanStep.Done([], failed); // a host's part too large for a frame: the whole would be too
        }

        var listings = answers.Select(a => a.Reply).OfType<TopologyListing>().ToList();
        var nodes = listings.SelectMany(l => l.Nodes)
            .Concat(Registry.Nodes.Where(n => !Live.Contains(n.Value)).Select(n => new NodeView(n.Key, "unreachable", n.Value, string.Empty, [])))
            .OrderBy(n => n.Name, StringComparer.Ordinal);
        var lans = listings.SelectMany(l => l.Lans)
            .Select(l => Registry.Lans.TryGetValue(l.Name, out var e) ? l with { Vni = e.Vni } : l)
            .Concat(Registry.Lans.Values.Where(l => l.Hosts.IsEmpty).Select(l => new LanView(l.Name, string.Empty, string.Empty, [], l.Vni, 0)))
            .OrderBy(l => l.Name, StringComparer.Ordinal).ThenBy(l => l.Host, StringComparer.Ordinal);
        return PlanStep.Done([], new TopologyListing([.. nodes], [.. lans]));
    }
}
