using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain;

public sealed record LanSpec(string Name, int Id)
{
    public string Bridge => OsNames.Bridge(Id);
}

public enum NodeKind
{
    Container,
    Vm,
}

public sealed record VmSpec(int RamMb, int Cpus, string Image);

/// <summary>A node and the kind of each of its nics (see <see cref="CloonixActors.Domain.NicKinds"/>), nic i at index i.</summary>
public sealed record NodeSpec(string Name, int Id, NodeKind Kind, ImmutableArray<NicKind> NicKinds, VmSpec? Vm = null)
{
    public int Nics => NicKinds.Length;

    public NicKind KindOf(int nic) => NicKinds[nic];

    /// <summary>By value: two specs of the same node and nic kinds are the same node.</summary>
    public bool Equals(NodeSpec? other) =>
        other is not null && Name == other.Name && Id == other.Id && Kind == other.Kind && NicKinds.SequenceEqual(other.NicKinds) && Vm == other.Vm;

    public override int GetHashCode() => HashCode.Combine(Name, Id, Kind, NicKinds.Length, Vm);
}

/// <summary>What this host can offer, read by the host agent; Decide checks VM specs against it.</summary>
/// <remarks>Only d nics need OVS-DPDK (<see cref="Dpdk"/>); s nics reach the lan through the relay's tap.</remarks>
public sealed record HostFacts(long RamMb, int Cpus, bool Dpdk, string DpdkWhyNot)
{
    public static readonly HostFacts Unlimited = new(long.MaxValue, int.MaxValue, true, string.Empty);
}

/// <summary>
/// What an s nic's relay does to the frames of one direction: added delay and jitter (ms), random loss (%),
/// a rate cap (Mbit/s, 0 = none).
/// </summary>
public sealed record ImpairmentSpec(double DelayMs, double JitterMs, double LossPercent, double RateMbit)
{
    public static readonly ImpairmentSpec None = new(0, 0, 0, 0);

    public bool IsNone => DelayMs == 0 && JitterMs == 0 && LossPercent == 0 && RateMbit == 0;

    /// <summary>Null when usable, else the one line a user needs.</summary>
    public string? Problem() =>
        !double.IsFinite(DelayMs) || DelayMs is < 0 or > 60_000 ? $"--delay {DelayMs} ms is outside 0 to 60000"
        : !double.IsFinite(JitterMs) || JitterMs < 0 || JitterMs > DelayMs ? $"--jitter {JitterMs} ms must be between 0 and the delay ({DelayMs} ms)"
        : !double.IsFinite(LossPercent) || LossPercent is < 0 or > 100 ? $"--loss {LossPercent} % is outside 0 to 100"
        : !double.IsFinite(RateMbit) || RateMbit is < 0 or > 400_000 ? $"--rate {RateMbit} Mbit/s is outside 0 (no cap) to 400000"
        : null;

    public override string ToString() =>
        IsNone ? "none" : string.Join(' ', new[]
        {
            DelayMs > 0 ? FormattableString.Invariant($"delay {DelayMs} ms") : null,
            JitterMs > 0 ? FormattableString.Invariant($"jitter {JitterMs} ms") : null,
            LossPercent > 0 ? FormattableString.Invariant($"loss {LossPercent} %") : null,
            RateMbit > 0 ? FormattableString.Invariant($"rate {RateMbit} Mbit/s") : null,
        }.OfType<string>());
}

/// <summary>One nic of one node, the key of an endpoint.</summary>
public readonly record struct NicRef(string Node, int Nic)
{
    public override string ToString() => $"{Node}/{Nic}";
}

/// <summary>The outcome of <see cref="Topology.Decide"/>: events to persist, or one reason for refusing.</summary>
public sealed record Decision(ImmutableArray<ITopologyEvent> Events, CommandFailed? Rejection)
{
    public bool Accepted => Rejection is null;

    public static Decision Accept(params ITopologyEvent[] events) => new([.. events], null);

    public static Decision Reject(ErrorCode code, string message) => new([], new CommandFailed(code, message));
}

/// <summary>
/// The desired topology of one host: lans, nodes and the endpoints that join them. Pure: Decide validates a
/// command against the state and returns the events that would follow; Apply folds one event in.
/// Only Apply changes state, so replaying the journal rebuilds exactly what Decide accepted.
/// </summary>
public sealed record Topology(
    int NextId,
    ImmutableSortedDictionary<string, LanSpec> Lans,
    ImmutableSortedDictionary<string, NodeSpec> Nodes,
    ImmutableSortedDictionary<NicRef, string> Endpoints)
{
    public const int MaxNics = 32;

    public static readonly Topology Empty = new(
        1,
        ImmutableSortedDictionary<string, LanSpec>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableSortedDictionary<string, NodeSpec>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableSortedDictionary.Create<NicRef, string>(Comparer<NicRef>.Create(CompareNic)));

    private static int CompareNic(NicRef a, NicRef b)
    {
        var byNode = string.CompareOrdinal(a.Node, b.Node);
        return byNode != 0 ? byNode : a.Nic.CompareTo(b.Nic);
    }

    /// <summary>Impairments of s nics by (nic, direction "in" or "out"); absent means none.</summary>
    public ImmutableSortedDictionary<(NicRef Nic, string Direction), ImpairmentSpec> Impairments { get; init; } =
        ImmutableSortedDictionary.Create<(NicRef Nic, string Direction), ImpairmentSpec>(Comparer<(NicRef Nic, string Direction)>.Create(CompareImpairment));

    private static int CompareImpairment((NicRef Nic, string Direction) a, (NicRef Nic, string Direction) b)
    {
        var byNic = CompareNic(a.Nic, b.Nic);
        return byNic != 0 ? byNic : string.CompareOrdinal(a.Direction, b.Direction);
    }

    public ImpairmentSpec ImpairmentOf(NicRef nic, string direction) => Impairments.GetValueOrDefault((nic, direction), ImpairmentSpec.None);

    public bool NameTaken(string name) => Lans.ContainsKey(name) || Nodes.ContainsKey(name);

    public IEnumerable<NicRef> MembersOf(string lan) =>
        Endpoints.Where(e => e.Value == lan).Select(e => e.Key);

    public IEnumerable<KeyValuePair<NicRef, string>> EndpointsOf(string node) =>
        Endpoints.Where(e => e.Key.Node == node);

    public Decision Decide(ITopologyCommand command) => Decide(command, HostFacts.Unlimited);

    public Decision Decide(ITopologyCommand command, HostFacts facts) => command switch
    {
        AddLan c => DecideAddLan(c),
        AddVm c => DecideAddVm(c, facts),
        AddContainer c => DecideAddContainer(c, facts),
        DeleteObject c => DecideDelete(c),
        ConnectNic c => DecideConnect(c),
        DisconnectNic c => DecideDisconnect(c),
        PurgeAll => DecidePurge(),
        DeployTopology c => DecideDeploy(c, facts),
        ImpairNic c => DecideImpair(c),
        _ => Decision.Reject(ErrorCode.InvalidArgument, $"unknown command {command.GetType().Name}"),
    };

    private Decision DecideAddLan(AddLan c)
    {
        if (Names.Problem(c.Name, "lan") is { } problem)
        {
            return Decision.Reject(ErrorCode.InvalidArgument, problem);
        }

        return NameTaken(c.Name)
            ? Decision.Reject(ErrorCode.AlreadyExists, $"name '{c.Name}' is already used by a {KindOf(c.Name)}")
            : Decision.Accept(new LanAdded(c.Name, NextId));
    }

    private Decision DecideAddContainer(AddContainer c, HostFacts facts)
    {
        if (Names.Problem(c.Name, "node") is { } problem)
        {
            return Decision.Reject(ErrorCode.InvalidArgument, problem);
        }

        if (CheckNics(c.Nics, NodeKind.Container, facts) is { } nicsProblem)
        {
            return nicsProblem;
        }

        return NameTaken(c.Name)
            ? Decision.Reject(ErrorCode.AlreadyExists, $"name '{c.Name}' is already used by a {KindOf(c.Name)}")
            : Decision.Accept(new ContainerNodeAdded(c.Name, NextId, [.. c.Nics]));
    }

    /// <summary>The refusal of a node without nics or with too many; the client's usage error for `add cnt --nics N` says the same.</summary>
    public static string NicCountProblem(NodeKind node, int count) => $"a {NodeWord(node)} has 1 to {MaxNics} nics, not {count}";

    /// <summary>
    /// The nics of a node to add, as <see cref="NicKinds"/> says: 1 to <see cref="MaxNics"/> of them, each a
    /// kind the node may have, and the host able to run each. The client sends only kinds it parsed from
    /// letters, but a request can be made by hand: a missing list or a number that is no kind is refused too.
    /// </summary>
    private static Decision? CheckNics(NicKind[]? nics, NodeKind node, HostFacts facts)
    {
        var allowed = node == NodeKind.Vm ? "d, v or s" : "v (veth) or s (spyable)";
        if (nics is null)
        {
            return Decision.Reject(ErrorCode.InvalidArgument, $"the request lists no nics: a {NodeWord(node)} has 1 to {MaxNics} nics");
        }

        if (nics.Length is < 1 or > MaxNics)
        {
            return Decision.Reject(ErrorCode.InvalidArgument, NicCountProblem(node, nics.Length));
        }

        for (var i = 0; i < nics.Length; i++)
        {
            if (!NicKinds.IsDefined(nics[i]))
            {
                return Decision.Reject(ErrorCode.InvalidArgument, $"nic {i} has kind {(int)nics[i]}, which is no nic kind: each nic of a {NodeWord(node)} is {allowed}");
            }

            if (!NicKinds.Of(nics[i]).AllowedOn(node))
            {
                return Decision.Reject(ErrorCode.InvalidArgument, $"nic {i} is a {nics[i]} nic, which a {NodeWord(node)} cannot have: each nic of a {NodeWord(node)} is {allowed}");
            }
        }

        // Only d nics need OVS-DPDK today; the table says which.
        return !facts.Dpdk && nics.Any(k => NicKinds.Of(k).NeedsOvsDpdk)
            ? Decision.Reject(ErrorCode.Unavailable, $"this host cannot run d nics: {facts.DpdkWhyNot}")
            : null;
    }

    private static string NodeWord(NodeKind node) => node == NodeKind.Vm ? "vm" : "container";

    public const int MaxVmRamMb = 1 << 20;

    private Decision DecideAddVm(AddVm c, HostFacts facts)
    {
        if (Names.Problem(c.Name, "node") is { } problem)
        {
            return Decision.Reject(ErrorCode.InvalidArgument, problem);
        }

        if (CheckNics(c.Nics, NodeKind.Vm, facts) is { } nicsProblem)
        {
            return nicsProblem;
        }

        if (c.RamMb < 64 || c.RamMb > Math.Min(facts.RamMb, MaxVmRamMb))
        {
            return Decision.Reject(ErrorCode.InvalidArgument, $"--ram {c.RamMb} MB is outside 64 to {Math.Min(facts.RamMb, MaxVmRamMb)} MB (the host's memory)");
        }

        if (c.Cpus < 1 || c.Cpus > Math.Min(facts.Cpus, 64))
        {
            return Decision.Reject(ErrorCode.InvalidArgument, $"--cpus {c.Cpus} is outside 1 to {Math.Min(facts.Cpus, 64)} (the host's cores)");
        }

        if (string.IsNullOrEmpty(c.Image) || (c.Image != "tiny" && !Path.IsPathFullyQualified(c.Image)) || c.Image.Contains("..", StringComparison.Ordinal) || c.Image.Any(char.IsControl) || c.Image.Contains(',', StringComparison.Ordinal))
        {
            return Decision.Reject(ErrorCode.InvalidArgument, $"--image '{Names.Printable(c.Image ?? string.Empty)}' must be 'tiny' or an absolute path without '..' or ','");
        }

        return NameTaken(c.Name)
            ? Decision.Reject(ErrorCode.AlreadyExists, $"name '{c.Name}' is already used by a {KindOf(c.Name)}")
            : Decision.Accept(new VmNodeAdded(c.Name, NextId, [.. c.Nics], c.RamMb, c.Cpus, c.Image));
    }

    private Decision DecideDelete(DeleteObject c)
    {
        if (Names.Problem(c.Name, "object") is { } problem)
        {
            return Decision.Reject(ErrorCode.InvalidArgument, problem);
        }

        if (Lans.ContainsKey(c.Name))
        {
            var members = MembersOf(c.Name).ToList();
            if (members.Count > 0 && !c.Force)
            {
                return Decision.Reject(
                    ErrorCode.Conflict,
                    $"lan '{c.Name}' has {members.Count} attached nic(s) ({string.Join(", ", members.Take(4))}{(members.Count > 4 ? ", ..." : "")}); disconnect them or use --force");
            }

            var events = members.Select(m => (ITopologyEvent)new NicDisconnected(m.Node, m.Nic, c.Name))
                .Append(new LanRemoved(c.Name));
            return Decision.Accept([.. events]);
        }

        if (Nodes.ContainsKey(c.Name))
        {
            // A node takes its endpoints with it: detaching is implied by removing the nic itself.
            var events = EndpointsOf(c.Name).Select(e => (ITopologyEvent)new NicDisconnected(e.Key.Node, e.Key.Nic, e.Value))
                .Append(new NodeRemoved(c.Name));
            return Decision.Accept([.. events]);
        }

        return Decision.Reject(ErrorCode.NotFound, $"no node or lan named '{c.Name}'");
    }

    private Decision DecideConnect(ConnectNic c)
    {
        if (CheckNic(c.Node, c.Nic) is { } nicProblem)
        {
            return nicProblem;
        }

        if (Checks.Lan(c.Lan, Lans.ContainsKey, Nodes.ContainsKey) is { } lanProblem)
        {
            return new Decision([], lanProblem);
        }

        var nic = new NicRef(c.Node, c.Nic);
        if (Endpoints.TryGetValue(nic, out var current))
        {
            return Decision.Reject(ErrorCode.Conflict, $"nic {nic} is already connected to lan '{current}'; disconnect it first");
        }

        return Decision.Accept(new NicConnected(c.Node, c.Nic, c.Lan));
    }

    private Decision DecideDisconnect(DisconnectNic c)
    {
        if (CheckNic(c.Node, c.Nic) is { } nicProblem)
        {
            return nicProblem;
        }

        var nic = new NicRef(c.Node, c.Nic);
        return Endpoints.TryGetValue(nic, out var lan)
            ? Decision.Accept(new NicDisconnected(c.Node, c.Nic, lan))
            : Decision.Reject(ErrorCode.Conflict, $"nic {nic} is not connected to any lan");
    }

    /// <summary>All or nothing: each part is decided against the state the parts before it would make.</summary>
    private Decision DecideDeploy(DeployTopology c, HostFacts facts)
    {
        // Impairments come last: they apply to nics of the nodes the same deploy adds.
        var parts = (c.Lans ?? []).Select((l, i) => ($"lans[{i}]", (ITopologyCommand)new AddLan(l)))
            .Concat((c.Containers ?? []).Select((n, i) => ($"nodes[{i}]", (ITopologyCommand)new AddContainer(n?.Name!, n?.Nics!))))
            .Concat((c.Vms ?? []).Select((v, i) => ($"vms[{i}]", (ITopologyCommand)new AddVm(v?.Name!, v?.Nics!, v?.RamMb ?? 0, v?.Cpus ?? 0, v?.Image!))))
            .Concat((c.Endpoints ?? []).Select((e, i) => ($"endpoints[{i}]", (ITopologyCommand)new ConnectNic(e?.Node!, e?.Nic ?? -1, e?.Lan!))))
            .Concat((c.Impairments ?? []).Select((m, i) => ($"impairments[{i}]", m is null ? (ITopologyCommand)new ImpairNic(null!, -1, ImpairDirections.Both, 0, 0, 0, 0) : m)));
        var state = this;
        var events = new List<ITopologyEvent>();
        foreach (var (where, part) in parts)
        {
            var decision = state.Decide(part, facts);
            if (decision.Rejection is { } rejected)
            {
                return Decision.Reject(rejected.Code, $"{where}: {rejected.Message}");
            }

            state = state.ApplyAll(decision.Events);
            events.AddRange(decision.Events);
        }

        return events.Count == 0
            ? Decision.Reject(ErrorCode.InvalidArgument, "the topology is empty")
            : Decision.Accept([.. events]);
    }

    private Decision DecideImpair(ImpairNic c)
    {
        if (CheckNic(c.Node, c.Nic) is { } nicProblem)
        {
            return nicProblem;
        }

        var kind = Nodes[c.Node].KindOf(c.Nic);
        if (!NicKinds.Of(kind).PassesRelay)
        {
            return Decision.Reject(ErrorCode.InvalidArgument, $"nic {new NicRef(c.Node, c.Nic)} is a {NicKinds.Name(kind)} nic: only s (spyable) nics pass the relay that impairs");
        }

        if (!ImpairDirections.IsValid(c.Direction))
        {
            return Decision.Reject(ErrorCode.InvalidArgument, $"--dir '{Names.Printable(c.Direction ?? string.Empty)}' must be in, out or both");
        }

        var spec = new ImpairmentSpec(c.DelayMs, c.JitterMs, c.LossPercent, c.RateMbit);
        if (spec.Problem() is { } problem)
        {
            return Decision.Reject(ErrorCode.InvalidArgument, problem);
        }

        var directions = c.Direction == ImpairDirections.Both ? new[] { ImpairDirections.In, ImpairDirections.Out } : [c.Direction];
        return Decision.Accept([.. directions.Select(d => (ITopologyEvent)new NicImpaired(c.Node, c.Nic, d, c.DelayMs, c.JitterMs, c.LossPercent, c.RateMbit))]);
    }

    private Decision DecidePurge()
    {
        var events = Endpoints.Select(e => (ITopologyEvent)new NicDisconnected(e.Key.Node, e.Key.Nic, e.Value))
            .Concat(Nodes.Keys.Select(n => new NodeRemoved(n)))
            .Concat(Lans.Keys.Select(l => new LanRemoved(l)));
        return Decision.Accept([.. events]);
    }

    private Decision? CheckNic(string node, int nic) =>
        (Checks.Node(node, Nodes.ContainsKey, Lans.ContainsKey) ?? Checks.Nic(node, Nodes[node].Nics, nic)) is { } refused
            ? new Decision([], refused)
            : null;

    private string KindOf(string name) => Lans.ContainsKey(name) ? "lan" : "node";

    public Topology Apply(ITopologyEvent e) => e switch
    {
        LanAdded a => this with { Lans = Lans.Add(a.Name, new LanSpec(a.Name, a.Id)), NextId = Math.Max(NextId, a.Id + 1) },
        LanRemoved r => this with { Lans = Lans.Remove(r.Name) },
        ContainerNodeAdded a => this with
        {
            Nodes = Nodes.Add(a.Name, new NodeSpec(a.Name, a.Id, NodeKind.Container, [.. a.Nics])),
            NextId = Math.Max(NextId, a.Id + 1),
        },
        VmNodeAdded a => this with
        {
            Nodes = Nodes.Add(a.Name, new NodeSpec(a.Name, a.Id, NodeKind.Vm, [.. a.Nics], new VmSpec(a.RamMb, a.Cpus, a.Image))),
            NextId = Math.Max(NextId, a.Id + 1),
        },

        // The forms earlier releases wrote, still in their journals and snapshots.
        ContainerAdded a => Apply(new ContainerNodeAdded(a.Name, a.Id, [.. Enumerable.Repeat(NicKind.Veth, a.Nics)])),
        ContainerNicKinds k => this with { Nodes = Nodes.SetItem(k.Name, Nodes[k.Name] with { NicKinds = NicKinds.FromStoredLetters(k.NicTypes, NodeKind.Container, Nodes[k.Name].Nics) }) },
        VmAdded a => Apply(new VmNodeAdded(a.Name, a.Id, [.. NicKinds.FromStoredLetters(a.NicTypes, NodeKind.Vm, a.NicTypes.Length)], a.RamMb, a.Cpus, a.Image)),
        NodeRemoved r => this with
        {
            Nodes = Nodes.Remove(r.Name),
            Impairments = Impairments.RemoveRange(Impairments.Keys.Where(k => k.Nic.Node == r.Name)),
        },
        NicImpaired i => new ImpairmentSpec(i.DelayMs, i.JitterMs, i.LossPercent, i.RateMbit) is { IsNone: true }
            ? this with { Impairments = Impairments.Remove((new NicRef(i.Node, i.Nic), i.Direction)) }
            : this with { Impairments = Impairments.SetItem((new NicRef(i.Node, i.Nic), i.Direction), new ImpairmentSpec(i.DelayMs, i.JitterMs, i.LossPercent, i.RateMbit)) },
        NicConnected c => this with { Endpoints = Endpoints.SetItem(new NicRef(c.Node, c.Nic), c.Lan) },
        NicDisconnected d => this with { Endpoints = Endpoints.Remove(new NicRef(d.Node, d.Nic)) },
        _ => throw new ArgumentException($"unknown event {e.GetType().Name}", nameof(e)),
    };

    public Topology ApplyAll(IEnumerable<ITopologyEvent> events) => events.Aggregate(this, (t, e) => t.Apply(e));

    public LabSnapshot ToSnapshot() => new(
        NextId,
        [
            .. Lans.Values.Select(l => (ITopologyEvent)new LanAdded(l.Name, l.Id)),
            .. Nodes.Values.Select(n => n.Vm is { } vm
                ? (ITopologyEvent)new VmNodeAdded(n.Name, n.Id, [.. n.NicKinds], vm.RamMb, vm.Cpus, vm.Image)
                : new ContainerNodeAdded(n.Name, n.Id, [.. n.NicKinds])),
            .. Endpoints.Select(e => (ITopologyEvent)new NicConnected(e.Key.Node, e.Key.Nic, e.Value)),
            .. Impairments.Select(i => (ITopologyEvent)new NicImpaired(i.Key.Nic.Node, i.Key.Nic.Nic, i.Key.Direction, i.Value.DelayMs, i.Value.JitterMs, i.Value.LossPercent, i.Value.RateMbit)),
        ]);

    public static Topology FromSnapshot(LabSnapshot s) => (Empty with { NextId = s.NextId }).ApplyAll(s.Events);

    public static Topology FromSnapshot(TopologySnapshot s) =>
        (Empty with { NextId = s.NextId })
            .ApplyAll(s.Lans)
            .ApplyAll(s.Containers)
            .ApplyAll(s.Endpoints);
}
