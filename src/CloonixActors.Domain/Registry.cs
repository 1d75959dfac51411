using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain;

/// <summary>A lan of the cluster: its VXLAN id and the hosts that hold a segment (a bridge) of it.</summary>
public sealed record LanEntry(string Name, int Vni, ImmutableSortedSet<string> Hosts);

/// <summary>The outcome of a registry decision: events to persist, or one reason for refusing.</summary>
public sealed record RegistryDecision(ImmutableArray<IRegistryEvent> Events, CommandFailed? Rejection)
{
    public bool Accepted => Rejection is null;

    public static RegistryDecision Accept(params IRegistryEvent[] events) => new([.. events], null);

    public static RegistryDecision Reject(ErrorCode code, string message) => new([], new CommandFailed(code, message));
}

/// <summary>
/// The lan-coordinator's state: cluster-wide names (the host of every node), the lans with their VXLAN
/// ids and segment hosts. Pure, like <see cref="Topology"/>: decisions return events, only Apply changes
/// state. Hosts stay the authority on the nodes placed on them (their journals); the registry reserves
/// names, places nodes, numbers lans and derives the tunnels.
/// </summary>
public sealed record Registry(
    int NextVni,
    ImmutableSortedDictionary<string, LanEntry> Lans,
    ImmutableSortedDictionary<string, string> Nodes)
{
    /// <summary>VXLAN ids handed out start here (low ids are often used by hand-made tunnels).</summary>
    public const int FirstVni = 1000;

    public const int MaxVni = (1 << 24) - 1;

    public static readonly Registry Empty = new(
        FirstVni,
        ImmutableSortedDictionary<string, LanEntry>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal));

    private static readonly ImmutableSortedSet<string> NoHosts = ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal);

    public bool NameTaken(string name) => Lans.ContainsKey(name) || Nodes.ContainsKey(name);

    public string? HostOf(string node) => Nodes.GetValueOrDefault(node);

    public int Load(string host) => Nodes.Values.Count(h => h == host);

    public IEnumerable<string> NodesOn(string host) => Nodes.Where(n => n.Value == host).Select(n => n.Key);

    public IEnumerable<LanEntry> SegmentsOn(string host) => Lans.Values.Where(l => l.Hosts.Contains(host));

    /// <summary>The live host with the fewest nodes (ties: the first by name); null when none is live.</summary>
    public string? LeastLoaded(IEnumerable<string> live) =>
        live.OrderBy(Load).ThenBy(h => h, StringComparer.Ordinal).FirstOrDefault();

    /// <summary>Reserves a node's name and places it on <paramref name="host"/>, or on the least loaded live host.</summary>
    public RegistryDecision PlaceNode(string name, string? host, IReadOnlyCollection<string> live)
    {
        if (Names.Problem(name, "node") is { } problem)
        {
            return RegistryDecision.Reject(ErrorCode.InvalidArgument, problem);
        }

        if (NameTaken(name))
        {
            return RegistryDecision.Reject(ErrorCode.AlreadyExists, $"name '{name}' is already used by a {KindOf(name)}");
        }

        return ChooseHost(host, live, out var chosen) is { } refused
            ? refused
            : RegistryDecision.Accept(new NodePlaced(name, chosen));
    }

    /// <summary>
    /// Registers a lan with the next VXLAN id. It gets a first segment on <paramref name="host"/>, or on the
    /// only live host; in a cluster of several hosts and no host named, its segments appear where its
    /// members are (no empty bridge on a host that has none).
    /// </summary>
    public RegistryDecision AddLan(string name, string? host, IReadOnlyCollection<string> live)
    {
        if (Names.Problem(name, "lan") is { } problem)
        {
            return RegistryDecision.Reject(ErrorCode.InvalidArgument, problem);
        }

        if (NameTaken(name))
        {
            return RegistryDecision.Reject(ErrorCode.AlreadyExists, $"name '{name}' is already used by a {KindOf(name)}");
        }

        if (NextVni > MaxVni)
        {
            return RegistryDecision.Reject(ErrorCode.Unavailable, "no VXLAN id left");
        }

        if (host is null && live.Count > 1)
        {
            return RegistryDecision.Accept(new LanRegistered(name, NextVni));
        }

        return ChooseHost(host, live, out var chosen) is { } refused
            ? refused
            : RegistryDecision.Accept(new LanRegistered(name, NextVni), new LanSegmentAdded(name, chosen));
    }

    /// <summary>A segment of <paramref name="lan"/> on <paramref name="host"/>: nothing to do when it is there.</summary>
    public RegistryDecision EnsureSegment(string lan, string host) =>
        !Lans.TryGetValue(lan, out var entry)
            ? new RegistryDecision([], Checks.NoLan(lan, Nodes.ContainsKey(lan)))
            : entry.Hosts.Contains(host) ? RegistryDecision.Accept() : RegistryDecision.Accept(new LanSegmentAdded(lan, host));

    /// <summary>Forgets a lan: its segments, then the lan.</summary>
    public RegistryDecision RemoveLan(string lan) =>
        Lans.TryGetValue(lan, out var entry)
            ? RegistryDecision.Accept([.. entry.Hosts.Select(h => (IRegistryEvent)new LanSegmentRemoved(lan, h)), new LanUnregistered(lan)])
            : RegistryDecision.Accept();

    /// <summary>
    /// Brings the registry in line with what a host reports (its journal is the authority on its nodes and
    /// segments): reported nodes and segments the registry lacks are adopted, those it holds for the host
    /// but the host no longer has are dropped. A reported VXLAN id is kept when no other lan has it, so ids
    /// survive a coordinator that lost its own journal. A node name held by another host is not adopted.
    /// </summary>
    public RegistryDecision Adopt(string host, IReadOnlyCollection<string> nodes, IReadOnlyCollection<SegmentReport> segments)
    {
        var events = new List<IRegistryEvent>();
        var state = this;
        void Add(IRegistryEvent e)
        {
            events.Add(e);
            state = state.Apply(e);
        }

        var reportedNodes = nodes.Where(Names.IsValid).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in state.NodesOn(host).Where(n => !reportedNodes.Contains(n)).ToList())
        {
            Add(new NodeUnplaced(gone));
        }

        var reportedLans = segments.Where(s => Names.IsValid(s.Lan)).ToDictionary(s => s.Lan, s => s.Vni, StringComparer.Ordinal);
        foreach (var lan in state.SegmentsOn(host).Select(l => l.Name).Where(l => !reportedLans.ContainsKey(l)).ToList())
        {
            Add(new LanSegmentRemoved(lan, host));
            if (state.Lans[lan].Hosts.IsEmpty)
            {
                Add(new LanUnregistered(lan));
            }
        }

        foreach (var node in reportedNodes.Order(StringComparer.Ordinal).Where(n => !state.NameTaken(n)))
        {
            Add(new NodePlaced(node, host));
        }

        foreach (var (lan, vni) in reportedLans.OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            if (!state.Lans.ContainsKey(lan))
            {
                if (state.Nodes.ContainsKey(lan))
                {
                    continue;
                }

                var free = vni is >= 1 and <= MaxVni && state.Lans.Values.All(l => l.Vni != vni);
                Add(new LanRegistered(lan, free ? vni : state.NextVni));
            }

            if (!state.Lans[lan].Hosts.Contains(host))
            {
                Add(new LanSegmentAdded(lan, host));
            }
        }

        return new RegistryDecision([.. events], null);
    }

    /// <summary>The tunnel peers of <paramref name="host"/>'s segment of a lan: the addresses of the other live segments.</summary>
    public IReadOnlyList<string> Peers(string lan, string host, IReadOnlyDictionary<string, string> liveTunnelAddresses)
    {
        if (!Lans.TryGetValue(lan, out var entry) || !entry.Hosts.Contains(host))
        {
            return [];
        }

        return
        [
            .. entry.Hosts
                .Where(h => h != host && liveTunnelAddresses.TryGetValue(h, out var a) && !string.IsNullOrEmpty(a))
                .Select(h => liveTunnelAddresses[h])
                .Order(StringComparer.Ordinal),
        ];
    }

    private RegistryDecision? ChooseHost(string? requested, IReadOnlyCollection<string> live, out string chosen)
    {
        chosen = string.Empty;
        if (requested is not null)
        {
            if (Names.Problem(requested, "host") is { } problem)
            {
                return RegistryDecision.Reject(ErrorCode.InvalidArgument, problem);
            }

            if (!live.Contains(requested))
            {
                return RegistryDecision.Reject(ErrorCode.Unavailable, $"host '{requested}' is not a live member of the cluster (live: {(live.Count == 0 ? "none" : string.Join(", ", live.Order(StringComparer.Ordinal)))})");
            }

            chosen = requested;
            return null;
        }

        if (LeastLoaded(live) is not { } least)
        {
            return RegistryDecision.Reject(ErrorCode.Unavailable, "no host is live in the cluster yet");
        }

        chosen = least;
        return null;
    }

    private string KindOf(string name) => Lans.ContainsKey(name) ? "lan" : "node";

    public Registry Apply(IRegistryEvent e) => e switch
    {
        LanRegistered r => this with
        {
            Lans = Lans.SetItem(r.Name, new LanEntry(r.Name, r.Vni, NoHosts)),
            NextVni = Math.Max(NextVni, r.Vni + 1),
        },
        LanSegmentAdded a when Lans.TryGetValue(a.Lan, out var l) => this with { Lans = Lans.SetItem(a.Lan, l with { Hosts = l.Hosts.Add(a.Host) }) },
        LanSegmentRemoved r when Lans.TryGetValue(r.Lan, out var l) => this with { Lans = Lans.SetItem(r.Lan, l with { Hosts = l.Hosts.Remove(r.Host) }) },
        LanSegmentAdded or LanSegmentRemoved => this,
        LanUnregistered u => this with { Lans = Lans.Remove(u.Name) },
        NodePlaced p => this with { Nodes = Nodes.SetItem(p.Name, p.Host) },
        NodeUnplaced u => this with { Nodes = Nodes.Remove(u.Name) },
        _ => throw new ArgumentException($"unknown event {e.GetType().Name}", nameof(e)),
    };

    public Registry ApplyAll(IEnumerable<IRegistryEvent> events) => events.Aggregate(this, (r, e) => r.Apply(e));

    public RegistrySnapshot ToSnapshot() => new(
        NextVni,
        [
            .. Lans.Values.Select(l => (IRegistryEvent)new LanRegistered(l.Name, l.Vni)),
            .. Lans.Values.SelectMany(l => l.Hosts.Select(h => (IRegistryEvent)new LanSegmentAdded(l.Name, h))),
            .. Nodes.Select(n => (IRegistryEvent)new NodePlaced(n.Key, n.Value)),
        ]);

    public static Registry FromSnapshot(RegistrySnapshot s) => (Empty with { NextVni = s.NextVni }).ApplyAll(s.Events);
}
