using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain.Plans;

/// <summary>
/// A topology over several hosts: checked whole first (names, nic ranges, endpoints) against a scratch
/// topology holding the cluster's names, then nodes are placed, the registry records it all, and each
/// host deploys its part (its own all-or-nothing). All or nothing across hosts: when a host refuses its
/// part, the registry forgets every part and the hosts that applied theirs remove it (the undo).
/// </summary>
/// <param name="Placed">Each node of the topology and the host it went to.</param>
/// <param name="NewSegments">The lan segments this deploy adds.</param>
/// <param name="NewLans">The lans this deploy registers.</param>
public sealed record DeployPlan(
    ImmutableArray<HostPart> HostParts,
    ImmutableArray<(string Node, string Host)> Placed,
    ImmutableArray<(string Lan, string Host)> NewSegments,
    ImmutableArray<string> NewLans,
    string Summary) : HostPlan
{
    public override ImmutableArray<HostPart> Parts => HostParts;

    public static RequestPlan Plan(Registry registry, DeployTopology c, IReadOnlyList<string> live)
    {
        var scratch = Topology.Empty.ApplyAll(
            registry.Lans.Keys.Select((l, i) => (ITopologyEvent)new LanAdded(l, i + 1))
                .Concat(registry.Nodes.Keys.Select((n, i) => (ITopologyEvent)new ContainerAdded(n, registry.Lans.Count + i + 1, Topology.MaxNics))));
        var check = scratch.Decide(c with { Host = null });
        if (check.Rejection is { } rejected)
        {
            return RequestPlan.Reject(rejected);
        }

        var nodes = (c.Containers ?? []).Select(n => (n.Name, n.Host)).Concat((c.Vms ?? []).Select(v => (v.Name, v.Host))).ToList();
        var named = nodes.Select(n => n.Host).Concat((c.LanHosts ?? []).Select(l => l?.Host)).Append(c.Host).OfType<string>();
        if (named.FirstOrDefault(h => !live.Contains(h)) is { } wanted)
        {
            return RequestPlan.Reject(ErrorCode.Unavailable, $"host '{Names.Printable(wanted)}' is not a live member of the cluster");
        }

        if (live.Count == 0)
        {
            return RequestPlan.Reject(ErrorCode.Unavailable, "no host is live in the cluster yet");
        }

        var state = registry;
        var events = new List<IRegistryEvent>();
        void Add(IRegistryEvent e)
        {
            events.Add(e);
            state = state.Apply(e);
        }

        var placed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var host = node.Host ?? c.Host ?? state.LeastLoaded(live)!;
            placed[node.Name] = host;
            Add(new NodePlaced(node.Name, host));
        }

        foreach (var lan in (c.Lans ?? []).Where(l => !state.Lans.ContainsKey(l)))
        {
            Add(new LanRegistered(lan, state.NextVni));
        }

        var endpoints = c.Endpoints ?? [];
        var segments = endpoints.Select(e => (Lan: e.Lan, Host: state.HostOf(e.Node)!)).ToList();
        // A lan without members gets a bridge only where nodes were asked to go (as `add lan` does).
        if ((c.Host ?? (live.Count == 1 ? live[0] : null)) is { } firstHome)
        {
            segments.AddRange((c.Lans ?? []).Where(l => !endpoints.Any(e => e.Lan == l) && state.Lans[l].Hosts.IsEmpty && !(c.LanHosts ?? []).Any(p => p?.Lan == l)).Select(l => (l, firstHome)));
        }

        if ((c.LanHosts ?? []).Any(p => p?.Lan is null || p.Host is null || !state.Lans.ContainsKey(p.Lan)))
        {
            return RequestPlan.Reject(ErrorCode.NotFound, "a lan host names no lan of this topology or of the cluster");
        }

        segments.AddRange((c.LanHosts ?? []).Select(p => (p.Lan, p.Host)));

        var newSegments = segments.Distinct().Where(s => !state.Lans[s.Lan].Hosts.Contains(s.Host)).ToList();
        foreach (var (lan, host) in newSegments)
        {
            Add(new LanSegmentAdded(lan, host));
        }

        var impairments = c.Impairments ?? [];
        var hosts = placed.Values.Concat(newSegments.Select(s => s.Host)).Concat(endpoints.Select(e => state.HostOf(e.Node)!)).Concat(impairments.Select(i => state.HostOf(i.Node)!)).Distinct().Order(StringComparer.Ordinal).ToList();
        if (hosts.FirstOrDefault(h => !live.Contains(h)) is { } away)
        {
            return RequestPlan.Reject(PlanReplies.Unreachable(away, "nodes of this topology", live)!);
        }

        var parts = hosts.Select(h => new HostPart(h, new DeployTopology(
            [.. newSegments.Where(s => s.Host == h).Select(s => s.Lan)],
            [.. (c.Containers ?? []).Where(n => placed[n.Name] == h)],
            [.. endpoints.Where(e => state.HostOf(e.Node) == h)],
            Vms: [.. (c.Vms ?? []).Where(v => placed[v.Name] == h)],
            Impairments: [.. impairments.Where(i => state.HostOf(i.Node) == h)])));
        return RequestPlan.Run(events, new DeployPlan(
            [.. parts],
            [.. placed.Select(p => (p.Key, p.Value))],
            [.. newSegments],
            [.. (c.Lans ?? []).Where(l => !registry.Lans.ContainsKey(l))],
            $"deployed {c.Lans?.Length ?? 0} lan(s), {nodes.Count} node(s), {endpoints.Length} endpoint(s) on {hosts.Count} host(s)"));
    }

    public override PlanStep Answered(IReadOnlyList<HostAnswer> answers)
    {
        // A host that recorded its part but could not apply all of it yet (DataPlane) keeps reconciling: not a refusal.
        var failed = answers.Where(r => r.Reply is CommandFailed { Code: not ErrorCode.DataPlane }).Select(r => r.Host).ToHashSet(StringComparer.Ordinal);
        if (failed.Count == 0)
        {
            return PlanStep.Done([], new CommandSucceeded(Summary));
        }

        var forget = Placed.Select(n => (IRegistryEvent)new NodeUnplaced(n.Node))
            .Concat(NewSegments.Select(s => (IRegistryEvent)new LanSegmentRemoved(s.Lan, s.Host)))
            .Concat(NewLans.Select(l => (IRegistryEvent)new LanUnregistered(l)));
        var undo = answers.Where(r => !failed.Contains(r.Host)).SelectMany(r =>
            Placed.Where(p => p.Host == r.Host).Select(p => new HostPart(r.Host, new DeleteObject(p.Node, Force: true)))
                .Concat(NewSegments.Where(s => s.Host == r.Host).Select(s => new HostPart(r.Host, new DeleteObject(s.Lan, Force: true)))));
        var first = answers.First(r => failed.Contains(r.Host));
        var refusal = (CommandFailed)first.Reply;
        return PlanStep.Done(new PlanOutcome([.. forget], refusal with { Message = $"host {first.Host}: {refusal.Message} (nothing of the topology was kept)" }, [.. undo]));
    }
}
