using System.Collections.Immutable;
using System.Globalization;
using CloonixActors.Protocol;

namespace CloonixActors.Domain;

/// <summary>
/// One nic of a lab file: its kind, the lan it joins (null: none) and, for an s nic, the impairment of
/// each direction (null: none). Room is left here for a link state (up/down) in a later version.
/// </summary>
public sealed record LabNic(NicKind Kind, string? Lan = null, ImpairmentSpec? In = null, ImpairmentSpec? Out = null)
{
    public ImpairmentSpec InOrNone => In ?? ImpairmentSpec.None;

    public ImpairmentSpec OutOrNone => Out ?? ImpairmentSpec.None;
}

/// <summary>A node of a lab file; <paramref name="Vm"/> holds a VM's memory, CPUs and image. Room for a node state later.</summary>
public sealed record LabNode(string Name, NodeKind Kind, ImmutableArray<LabNic> Nics, string? Host = null, VmSpec? Vm = null)
{
    /// <summary>"cnt" or "vm", as the file and the listing write it.</summary>
    public string KindName => Kind == NodeKind.Vm ? "vm" : "cnt";

    /// <summary>The kind of each nic, nic 0 first, as commands carry them.</summary>
    public NicKind[] NicKinds => [.. Nics.Select(n => n.Kind)];

    /// <summary>The nic letters, comma separated ("d,v,s").</summary>
    public string NicLetters => Domain.NicKinds.Format(Nics.Select(n => n.Kind));

    /// <summary>Kind, nics and VM spec: what must be equal for the lab's node to be the file's.</summary>
    public string Shape => Vm is { } vm
        ? string.Create(CultureInfo.InvariantCulture, $"vm with nics {NicLetters}, ram {vm.RamMb} MB, cpus {vm.Cpus}, image {vm.Image}")
        : $"cnt with nics {NicLetters}";
}

/// <summary>A lan of a lab file; <paramref name="Host"/> gives it a segment on a host none of its members is on.</summary>
public sealed record LabLan(string Name, string? Host = null);

/// <summary>
/// A whole lab as a topology file holds it (schema version 1): lans, nodes of every kind with their typed
/// nics, the lan of each nic, impairments, hosts. Pure data: the client parses and writes the YAML, the
/// diff and the graph are computed here.
/// </summary>
public sealed record LabFile(ImmutableArray<LabLan> Lans, ImmutableArray<LabNode> Nodes)
{
    public const int Version = 1;

    public static readonly LabFile Empty = new([], []);

    /// <summary>
    /// The running lab as a file, from a listing (`ls --json`). Refused (a message) when a node's host does
    /// not answer: such a lab cannot be written down whole.
    /// </summary>
    public static (LabFile? Lab, string? Problem) FromListing(TopologyListing listing)
    {
        var nodes = new List<LabNode>();
        foreach (var n in listing.Nodes ?? [])
        {
            if (n.Kind is not ("cnt" or "vm"))
            {
                return (null, $"node '{n.Name}' is on host '{n.Host}', which does not answer: the lab cannot be read whole");
            }

            var kind = n.Kind == "vm" ? NodeKind.Vm : NodeKind.Container;
            var nics = new List<LabNic>();
            foreach (var nic in (n.Nics ?? []).OrderBy(x => x.Index))
            {
                if (NicKinds.FromName(nic.Kind) is not { } nicKind)
                {
                    return (null, $"nic {n.Name}/{nic.Index} has a kind '{nic.Kind}' this client does not know");
                }

                nics.Add(new LabNic(nicKind, nic.Lan, Spec(nic.ImpairIn), Spec(nic.ImpairOut)));
            }

            nodes.Add(new LabNode(n.Name, kind, [.. nics], n.Host, kind == NodeKind.Vm ? new VmSpec(n.RamMb, n.Cpus, n.Image ?? "tiny") : null));
        }

        // A lan's segments on the hosts of its members follow from them; a segment elsewhere is the lan's host.
        var memberHosts = nodes.SelectMany(n => n.Nics.Where(x => x.Lan is not null).Select(x => (Lan: x.Lan!, n.Host)))
            .ToLookup(x => x.Lan, x => x.Host, StringComparer.Ordinal);
        var lans = (listing.Lans ?? []).GroupBy(l => l.Name, StringComparer.Ordinal)
            .Select(g => new LabLan(g.Key, g.Select(l => l.Host).Where(h => !string.IsNullOrEmpty(h) && !memberHosts[g.Key].Contains(h)).Order(StringComparer.Ordinal).FirstOrDefault()))
            .OrderBy(l => l.Name, StringComparer.Ordinal);
        return (new LabFile([.. lans], [.. nodes.OrderBy(n => n.Name, StringComparer.Ordinal)]), null);
    }

    private static ImpairmentSpec? Spec(ImpairmentView? v) =>
        v is null ? null : new ImpairmentSpec(v.DelayMs, v.JitterMs, v.LossPercent, v.RateMbit) is { IsNone: false } s ? s : null;
}

/// <summary>One change a deploy makes to reach the file; ToString is the line `deploy --dry-run` prints.</summary>
public abstract record LabChange
{
    private LabChange()
    {
    }

    public sealed record AddLan(LabLan Lan) : LabChange
    {
        public override string ToString() => $"add lan {Lan.Name}{(Lan.Host is null ? string.Empty : $" on host {Lan.Host}")}";
    }

    public sealed record AddNode(LabNode Node) : LabChange
    {
        public override string ToString() => $"add {Node.Shape}: {Node.Name}{(Node.Host is null ? string.Empty : $" on host {Node.Host}")}";
    }

    public sealed record Connect(string Node, int Nic, string Lan) : LabChange
    {
        public override string ToString() => $"connect {Node} {Nic} {Lan}";
    }

    /// <summary>Sets the impairment of one direction ("in", "out") or of both ("both", the same figures).</summary>
    public sealed record Impair(string Node, int Nic, string Direction, ImpairmentSpec Spec, bool NewNode) : LabChange
    {
        public override string ToString() => $"impair {Node} {Nic} {Direction}: {Spec}";

        public ImpairNic ToCommand() => new(Node, Nic, Direction, Spec.DelayMs, Spec.JitterMs, Spec.LossPercent, Spec.RateMbit);
    }
}

/// <summary>
/// What a deploy of a file does to a running lab: the changes that add what the lab lacks, or the first
/// conflict (a name the lab holds as something else) that makes the deploy refuse, changing nothing.
/// </summary>
public sealed record LabDiff(ImmutableArray<LabChange> Changes, string? Conflict)
{
    public bool IsEmpty => Conflict is null && Changes.IsEmpty;

    /// <summary>
    /// The file against the lab. Nodes and lans of the lab that the file does not name are left alone; a
    /// node the file names must have the lab's kind, nics, VM spec and (when the file names one) host,
    /// and each of its nics the lab's lan or none yet; impairments are set to the file's figures.
    /// </summary>
    public static LabDiff Compute(LabFile desired, LabFile current)
    {
        var lans = current.Lans.ToDictionary(l => l.Name, StringComparer.Ordinal);
        var nodes = current.Nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var changes = new List<LabChange>();
        LabDiff Refuse(string why) => new([], why);

        foreach (var lan in desired.Lans)
        {
            if (nodes.ContainsKey(lan.Name))
            {
                return Refuse($"'{lan.Name}' is a lan in the file but a node in the lab");
            }

            if (!lans.ContainsKey(lan.Name))
            {
                changes.Add(new LabChange.AddLan(lan));
            }
        }

        var known = desired.Lans.Select(l => l.Name).Concat(lans.Keys).ToHashSet(StringComparer.Ordinal);
        var connects = new List<LabChange>();
        var impairs = new List<LabChange>();
        foreach (var node in desired.Nodes)
        {
            if (lans.ContainsKey(node.Name))
            {
                return Refuse($"'{node.Name}' is a node in the file but a lan in the lab");
            }

            var have = nodes.GetValueOrDefault(node.Name);
            if (have is not null)
            {
                if (have.Shape != node.Shape)
                {
                    return Refuse($"node '{node.Name}' differs: the file has a {node.Shape}, the lab a {have.Shape}");
                }

                if (node.Host is not null && node.Host != have.Host)
                {
                    return Refuse($"node '{node.Name}' is on host '{have.Host}' in the lab, the file puts it on '{node.Host}'");
                }
            }
            else
            {
                changes.Add(new LabChange.AddNode(node));
            }

            for (var i = 0; i < node.Nics.Length; i++)
            {
                var nic = node.Nics[i];
                var lab = have?.Nics[i];
                if (nic.Lan is not null && !known.Contains(nic.Lan))
                {
                    return Refuse($"nic {node.Name}/{i} joins lan '{nic.Lan}', which is neither in the file nor in the lab");
                }

                if (lab?.Lan is { } labLan && labLan != nic.Lan)
                {
                    return Refuse($"nic {node.Name}/{i} is on lan '{labLan}' in the lab, the file {(nic.Lan is null ? "leaves it on none" : $"puts it on '{nic.Lan}'")}");
                }

                if (nic.Lan is not null && lab?.Lan is null)
                {
                    connects.Add(new LabChange.Connect(node.Name, i, nic.Lan));
                }

                var (wantIn, wantOut) = (nic.InOrNone, nic.OutOrNone);
                var (hasIn, hasOut) = (lab?.InOrNone ?? ImpairmentSpec.None, lab?.OutOrNone ?? ImpairmentSpec.None);
                if (wantIn == wantOut && (wantIn != hasIn || wantOut != hasOut))
                {
                    impairs.Add(new LabChange.Impair(node.Name, i, ImpairDirections.Both, wantIn, have is null));
                    continue;
                }

                if (wantIn != hasIn)
                {
                    impairs.Add(new LabChange.Impair(node.Name, i, ImpairDirections.In, wantIn, have is null));
                }

                if (wantOut != hasOut)
                {
                    impairs.Add(new LabChange.Impair(node.Name, i, ImpairDirections.Out, wantOut, have is null));
                }
            }
        }

        return new LabDiff([.. changes, .. connects, .. impairs], null);
    }

    /// <summary>
    /// `cloonix destroy`: the names of the file that the lab holds, nodes first, to delete; or the reason
    /// the file cannot be destroyed as it stands (a name of another kind, a lan that still holds nics of
    /// nodes the file does not name), before anything is removed.
    /// </summary>
    public static (IReadOnlyList<string> Delete, string? Problem) DestroyPlan(LabFile file, LabFile current)
    {
        var lans = current.Lans.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        var nodes = current.Nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var fileNodes = file.Nodes.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var node in file.Nodes)
        {
            if (lans.Contains(node.Name))
            {
                return ([], $"'{node.Name}' is a node in the file but a lan in the lab");
            }

            if (nodes.TryGetValue(node.Name, out var have) && have.Kind != node.Kind)
            {
                return ([], $"'{node.Name}' is a {node.KindName} in the file but a {have.KindName} in the lab");
            }
        }

        foreach (var lan in file.Lans)
        {
            if (nodes.ContainsKey(lan.Name))
            {
                return ([], $"'{lan.Name}' is a lan in the file but a node in the lab");
            }

            var others = current.Nodes.Where(n => !fileNodes.Contains(n.Name))
                .SelectMany(n => n.Nics.Select((x, i) => (x.Lan, Nic: $"{n.Name}/{i}")))
                .Where(x => x.Lan == lan.Name).Select(x => x.Nic).ToList();
            if (others.Count > 0)
            {
                return ([], $"lan '{lan.Name}' also holds {string.Join(", ", others.Take(4))}{(others.Count > 4 ? ", ..." : string.Empty)}, of nodes the file does not name");
            }
        }

        return ([.. file.Nodes.Select(n => n.Name).Where(nodes.ContainsKey), .. file.Lans.Select(l => l.Name).Where(lans.Contains)], null);
    }

    /// <summary>
    /// The one deploy request that adds the new lans, nodes, endpoints and the new nodes' impairments, all
    /// or nothing (null when there is none of those); then the impairments of nodes already in the lab,
    /// sent after it as ordinary impair requests. <paramref name="host"/> is the default host of nodes.
    /// </summary>
    public (DeployTopology? Deploy, IReadOnlyList<ImpairNic> Then) ToRequests(string? host = null)
    {
        var lans = Changes.OfType<LabChange.AddLan>().Select(c => c.Lan).ToList();
        var nodes = Changes.OfType<LabChange.AddNode>().Select(c => c.Node).ToList();
        var connects = Changes.OfType<LabChange.Connect>().ToList();
        var impairs = Changes.OfType<LabChange.Impair>().ToList();
        var deploy = lans.Count + nodes.Count + connects.Count + impairs.Count(i => i.NewNode) == 0
            ? null
            : new DeployTopology(
                [.. lans.Select(l => l.Name)],
                [.. nodes.Where(n => n.Kind == NodeKind.Container).Select(n => new ContainerSpec(n.Name, n.NicKinds, n.Host))],
                [.. connects.Select(c => new EndpointSpec(c.Node, c.Nic, c.Lan))],
                host,
                [.. nodes.Where(n => n.Kind == NodeKind.Vm).Select(n => new VmNodeSpec(n.Name, n.NicKinds, n.Vm!.RamMb, n.Vm.Cpus, n.Vm.Image, n.Host))],
                [.. impairs.Where(i => i.NewNode).Select(i => i.ToCommand())],
                [.. lans.Where(l => l.Host is not null).Select(l => new LanPlacement(l.Name, l.Host!))]);
        return (deploy, [.. impairs.Where(i => !i.NewNode).Select(i => i.ToCommand())]);
    }
}
