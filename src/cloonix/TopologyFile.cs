using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CloonixActors.Cli;

/// <summary>
/// A whole lab as a YAML file (schema version 1, see the README): lans, nodes of every kind with typed
/// nics, the lan of each nic, impairments, hosts. Files written before the version key (lans, and cnt
/// nodes with a number of nics and a connect list) are read as version 1. Strict: an unknown key, a wrong
/// type or a bad name is one error with its line number, and nothing is deployed.
/// </summary>
public static class TopologyFile
{
    private static readonly string[] TopKeys = ["version", "lans", "nodes", "endpoints"];
    private static readonly string[] LanKeys = ["name", "host"];
    private static readonly string[] NodeKeys = ["name", "kind", "host", "nics", "connect", "ram", "cpus", "image", "state"];
    private static readonly string[] NicKeys = ["kind", "lan", "impair", "link"];
    private static readonly string[] ImpairKeys = ["dir", "delay", "jitter", "loss", "rate"];
    private static readonly string[] EndpointKeys = ["node", "nic", "lan"];

    public static LabFile Load(string path)
    {
        string text;
        try
        {
            text = path == "-" ? Console.In.ReadToEnd() : File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ClientException($"cannot read {path}: {ex.Message}", 2);
        }

        return Parse(text, path);
    }

    /// <summary>The file's lab, or a <see cref="ClientException"/> (exit 2) naming <paramref name="source"/> and the line.</summary>
    public static LabFile Parse(string text, string source)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            return stream.Documents.Count switch
            {
                0 => throw new FileError(1, "the file is empty"),
                > 1 => throw new FileError(stream.Documents[1].RootNode.Start.Line, "the file holds more than one YAML document"),
                _ => Read(stream.Documents[0].RootNode),
            };
        }
        catch (FileError e)
        {
            throw new ClientException($"{source}: line {e.Line}: {e.Message}", 2);
        }
        catch (YamlException ex)
        {
            throw new ClientException($"{source}: line {ex.Start.Line}: {ex.InnerException?.Message ?? ex.Message}", 2);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this, not a YamlException, when the text ends inside a flow value.
            throw new ClientException($"{source}: line {text.Split('\n').Length}: the file ends inside an unclosed list, mapping or quote", 2);
        }
    }

    private sealed class FileError(long line, string message) : Exception(message)
    {
        public long Line { get; } = line;
    }

    private static LabFile Read(YamlNode root)
    {
        var top = Mapping(root, "the file", TopKeys);
        if (top.TryGetValue("version", out var version))
        {
            var v = Int(version, "version");
            if (v != LabFile.Version)
            {
                throw new FileError(version.Start.Line, $"version {v} is not one this client reads (it reads version {LabFile.Version})");
            }
        }

        var names = new Dictionary<string, long>(StringComparer.Ordinal);
        void Claim(string name, YamlNode at)
        {
            if (!names.TryAdd(name, at.Start.Line))
            {
                throw new FileError(at.Start.Line, $"name '{name}' is already used on line {names[name]}");
            }
        }

        var lans = new List<LabLan>();
        foreach (var item in top.TryGetValue("lans", out var lanList) ? Sequence(lanList, "lans") : [])
        {
            var lan = item is YamlScalarNode ? new LabLan(Name(item, "lan")) : ReadLan(Mapping(item, "a lan", LanKeys), item);
            Claim(lan.Name, item);
            lans.Add(lan);
        }

        var nodes = new List<(LabNode Node, YamlNode At)>();
        foreach (var item in top.TryGetValue("nodes", out var nodeList) ? Sequence(nodeList, "nodes") : [])
        {
            var node = ReadNode(item);
            Claim(node.Name, item);
            nodes.Add((node, item));
        }

        foreach (var item in top.TryGetValue("endpoints", out var endpointList) ? Sequence(endpointList, "endpoints") : [])
        {
            var e = Mapping(item, "an endpoint", EndpointKeys);
            var nodeName = Name(Required(e, "node", item), "node");
            var index = nodes.FindIndex(n => n.Node.Name == nodeName);
            if (index < 0)
            {
                throw new FileError(item.Start.Line, $"endpoint of '{nodeName}', which is no node of the file");
            }

            var node = nodes[index].Node;
            var nicNode = Required(e, "nic", item);
            var nic = Int(nicNode, "nic");
            if (nic < 0 || nic >= node.Nics.Length)
            {
                throw new FileError(nicNode.Start.Line, $"node '{nodeName}' has nics 0 to {node.Nics.Length - 1}; there is no nic {nic}");
            }

            var lan = Name(Required(e, "lan", item), "lan");
            if (node.Nics[nic].Lan is { } already && already != lan)
            {
                throw new FileError(item.Start.Line, $"nic {nodeName}/{nic} is already put on lan '{already}'");
            }

            nodes[index] = (node with { Nics = node.Nics.SetItem(nic, node.Nics[nic] with { Lan = lan }) }, nodes[index].At);
        }

        foreach (var (node, at) in nodes)
        {
            foreach (var lan in node.Nics.Select(n => n.Lan).OfType<string>())
            {
                if (names.TryGetValue(lan, out var line) && !lans.Any(l => l.Name == lan))
                {
                    throw new FileError(at.Start.Line, $"node '{node.Name}' joins '{lan}', a node of the file (line {line}), not a lan");
                }
            }
        }

        return new LabFile([.. lans], [.. nodes.Select(n => n.Node)]);
    }

    private static LabLan ReadLan(Dictionary<string, YamlNode> lan, YamlNode at) =>
        new(Name(Required(lan, "name", at), "lan"), lan.TryGetValue("host", out var host) ? Host(host) : null);

    private static LabNode ReadNode(YamlNode item)
    {
        var n = Mapping(item, "a node", NodeKeys);
        var name = Name(Required(n, "name", item), "node");
        if (n.TryGetValue("state", out var state))
        {
            throw new FileError(state.Start.Line, "'state' (a node's state) is reserved for a later version of the file");
        }

        var kindNode = n.GetValueOrDefault("kind");
        var kindText = kindNode is null ? "cnt" : Scalar(kindNode, "kind");
        var kind = kindText switch
        {
            "cnt" => NodeKind.Container,
            "vm" => NodeKind.Vm,
            _ => throw new FileError(kindNode!.Start.Line, $"node '{name}': kind '{Names.Printable(kindText)}' is neither cnt nor vm"),
        };
        VmSpec? vm = null;
        if (kind == NodeKind.Vm)
        {
            vm = new VmSpec(
                n.TryGetValue("ram", out var ram) ? Int(ram, "ram") : 256,
                n.TryGetValue("cpus", out var cpus) ? Int(cpus, "cpus") : 1,
                n.TryGetValue("image", out var image) ? Scalar(image, "image") : "tiny");
            if (vm.RamMb < 64 && ram is not null)
            {
                throw new FileError(ram.Start.Line, $"node '{name}': ram {vm.RamMb} MB is below 64 MB");
            }

            if (vm.Cpus < 1 && cpus is not null)
            {
                throw new FileError(cpus.Start.Line, $"node '{name}': cpus {vm.Cpus} is below 1");
            }

            if (image is not null && (vm.Image.Length == 0 || (vm.Image != "tiny" && !Path.IsPathFullyQualified(vm.Image)) || vm.Image.Contains("..", StringComparison.Ordinal) || vm.Image.Any(char.IsControl) || vm.Image.Contains(',', StringComparison.Ordinal)))
            {
                throw new FileError(image.Start.Line, $"node '{name}': image '{Names.Printable(vm.Image)}' must be 'tiny' or an absolute path without '..' or ','");
            }
        }
        else if (new[] { "ram", "cpus", "image" }.FirstOrDefault(n.ContainsKey) is { } vmOnly)
        {
            throw new FileError(n[vmOnly].Start.Line, $"node '{name}': '{vmOnly}' is for a vm, not a cnt");
        }

        var nics = ReadNics(name, kind, n.GetValueOrDefault("nics"), item);
        if (n.TryGetValue("connect", out var connect))
        {
            var lans = Sequence(connect, "connect");
            if (lans.Count > nics.Count)
            {
                throw new FileError(connect.Start.Line, $"node '{name}' connects {lans.Count} nics but has {nics.Count}");
            }

            for (var i = 0; i < lans.Count; i++)
            {
                var lan = Scalar(lans[i], "a lan of connect");
                if (lan is "-" or "")
                {
                    continue;
                }

                if (nics[i].Lan is not null)
                {
                    throw new FileError(lans[i].Start.Line, $"nic {name}/{i} has a lan in both its nic entry and connect");
                }

                nics[i] = nics[i] with { Lan = Name(lans[i], "lan") };
            }
        }

        return new LabNode(name, kind, [.. nics], n.TryGetValue("host", out var host) ? Host(host) : null, vm);
    }

    /// <summary>nics: a number (that many v nics), a letter list ("v,s" or [v, s]), or a list of nic entries.</summary>
    private static List<LabNic> ReadNics(string node, NodeKind kind, YamlNode? nics, YamlNode at)
    {
        var allowed = kind == NodeKind.Vm ? "d, v or s" : "v or s";
        LabNic Letter(string letter, YamlNode where) =>
            NicKinds.FromLetter(letter.Trim(), kind) is { } k ? new LabNic(k)
            : throw new FileError(where.Start.Line, $"node '{node}': nic kind '{Names.Printable(letter.Trim())}' is not one a {(kind == NodeKind.Vm ? "vm" : "cnt")} has ({allowed})");
        List<LabNic> list;
        switch (nics)
        {
            case null when kind == NodeKind.Vm:
                throw new FileError(at.Start.Line, $"node '{node}': a vm needs 'nics', one kind per nic ({allowed})");
            case null:
                list = [new LabNic(NicKind.Veth)];
                break;
            case YamlScalarNode s when int.TryParse(s.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var count):
                if (kind == NodeKind.Vm)
                {
                    throw new FileError(s.Start.Line, $"node '{node}': a vm's nics are listed by kind ({allowed}), not counted");
                }

                // Checked before the list is built: a count of millions is refused, not allocated.
                if (count is < 1 or > Topology.MaxNics)
                {
                    throw new FileError(s.Start.Line, $"node '{node}' has {count} nics: 1 to {Topology.MaxNics}");
                }

                list = [.. Enumerable.Repeat(new LabNic(NicKind.Veth), count)];
                break;
            case YamlScalarNode s:
                list = [.. (s.Value ?? string.Empty).Split(',').Select(l => Letter(l, s))];
                break;
            case YamlSequenceNode seq:
                list = [.. seq.Children.Select(c => c is YamlScalarNode letter ? Letter(letter.Value ?? string.Empty, c) : ReadNic(node, kind, c, Letter))];
                break;
            default:
                throw new FileError(nics.Start.Line, $"node '{node}': 'nics' must be a number, a list of nic kinds ({allowed}) or a list of nics");
        }

        if (list.Count is < 1 or > Topology.MaxNics)
        {
            throw new FileError((nics ?? at).Start.Line, $"node '{node}' has {list.Count} nics: 1 to {Topology.MaxNics}");
        }

        return list;
    }

    private static LabNic ReadNic(string node, NodeKind kind, YamlNode item, Func<string, YamlNode, LabNic> letter)
    {
        var m = Mapping(item, "a nic", NicKeys);
        if (m.TryGetValue("link", out var link))
        {
            throw new FileError(link.Start.Line, "'link' (a nic's link state) is reserved for a later version of the file");
        }

        var kindNode = Required(m, "kind", item);
        var nic = letter(Scalar(kindNode, "a nic's kind"), kindNode);
        if (m.TryGetValue("lan", out var lan))
        {
            nic = nic with { Lan = Name(lan, "lan") };
        }

        if (!m.TryGetValue("impair", out var impair))
        {
            return nic;
        }

        if (!NicKinds.Of(nic.Kind).PassesRelay)
        {
            throw new FileError(impair.Start.Line, $"node '{node}': only s (spyable) nics pass the relay that impairs");
        }

        var entries = impair is YamlSequenceNode several ? several.Children.ToList() : [impair];
        foreach (var entry in entries)
        {
            var i = Mapping(entry, "an impairment", ImpairKeys);
            double Figure(string key) => i.TryGetValue(key, out var v) ? Number(v, key) : 0;
            var spec = new ImpairmentSpec(Figure("delay"), Figure("jitter"), Figure("loss"), Figure("rate"));
            if (spec.Problem() is { } problem)
            {
                throw new FileError(entry.Start.Line, problem.TrimStart('-'));
            }

            var dir = i.TryGetValue("dir", out var d) ? Scalar(d, "dir") : "both";
            if (dir is "in" or "both")
            {
                nic = nic.In is null ? nic with { In = spec } : throw new FileError(entry.Start.Line, $"node '{node}': the in direction is impaired twice");
            }

            if (dir is "out" or "both")
            {
                nic = nic.Out is null ? nic with { Out = spec } : throw new FileError(entry.Start.Line, $"node '{node}': the out direction is impaired twice");
            }

            if (dir is not ("in" or "out" or "both"))
            {
                throw new FileError(d!.Start.Line, $"dir '{Names.Printable(dir)}' must be in, out or both");
            }
        }

        return nic with { In = nic.In is { IsNone: false } ? nic.In : null, Out = nic.Out is { IsNone: false } ? nic.Out : null };
    }

    private static Dictionary<string, YamlNode> Mapping(YamlNode node, string what, string[] keys)
    {
        if (node is not YamlMappingNode m)
        {
            throw new FileError(node.Start.Line, $"{what} must be a mapping (key: value)");
        }

        var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (k, v) in m.Children)
        {
            var key = k is YamlScalarNode s ? s.Value ?? string.Empty : throw new FileError(k.Start.Line, "a key must be a plain word");
            if (!keys.Contains(key))
            {
                throw new FileError(k.Start.Line, $"unknown key '{Names.Printable(key)}' in {what} (known: {string.Join(", ", keys)})");
            }

            if (!result.TryAdd(key, v))
            {
                throw new FileError(k.Start.Line, $"key '{key}' appears twice");
            }
        }

        return result;
    }

    private static YamlNode Required(Dictionary<string, YamlNode> m, string key, YamlNode at) =>
        m.TryGetValue(key, out var v) ? v : throw new FileError(at.Start.Line, $"'{key}' is missing");

    private static List<YamlNode> Sequence(YamlNode node, string what) => node switch
    {
        YamlSequenceNode s => [.. s.Children],
        YamlScalarNode { Value: null or "" or "~" or "null" } => [],
        _ => throw new FileError(node.Start.Line, $"'{what}' must be a list"),
    };

    private static string Scalar(YamlNode node, string what) =>
        node is YamlScalarNode s ? s.Value ?? string.Empty : throw new FileError(node.Start.Line, $"{what} must be a single value, not a list or a mapping");

    private static int Int(YamlNode node, string what) =>
        int.TryParse(Scalar(node, what), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new FileError(node.Start.Line, $"{what} '{Names.Printable(Scalar(node, what))}' is not a whole number");

    private static double Number(YamlNode node, string what) =>
        double.TryParse(Scalar(node, what), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v
            : throw new FileError(node.Start.Line, $"{what} '{Names.Printable(Scalar(node, what))}' is not a number");

    private static string Name(YamlNode node, string what)
    {
        var name = Scalar(node, $"a {what} name");
        return Names.Problem(name, what) is { } problem ? throw new FileError(node.Start.Line, problem) : name;
    }

    /// <summary>Host names are cloonixd's --name: checked by the coordinator; here only kept to one plain line.</summary>
    private static string Host(YamlNode node)
    {
        var host = Scalar(node, "host");
        return host.Length is 0 or > 253 || host.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))
            ? throw new FileError(node.Start.Line, $"host '{Names.Printable(host)}' is not a host name")
            : host;
    }

    /// <summary>The lab as a version-1 file: every field that `deploy` needs to make it again, in a stable order.</summary>
    public static string Write(LabFile lab)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"version: {LabFile.Version}");
        sb.AppendLine(lab.Lans.IsEmpty ? "lans: []" : "lans:");
        foreach (var lan in lab.Lans)
        {
            sb.AppendLine(lan.Host is null ? $"  - name: {lan.Name}" : $"  - {{name: {lan.Name}, host: {Text(lan.Host)}}}");
        }

        sb.AppendLine(lab.Nodes.IsEmpty ? "nodes: []" : "nodes:");
        foreach (var node in lab.Nodes)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  - name: {node.Name}");
            sb.AppendLine(CultureInfo.InvariantCulture, $"    kind: {node.KindName}");
            if (node.Host is not null)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"    host: {Text(node.Host)}");
            }

            if (node.Vm is { } vm)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"    ram: {vm.RamMb}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"    cpus: {vm.Cpus}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"    image: {Text(vm.Image)}");
            }

            sb.AppendLine("    nics:");
            foreach (var nic in node.Nics)
            {
                var fields = new List<string> { $"kind: {NicKinds.Letter(nic.Kind)}" };
                if (nic.Lan is not null)
                {
                    fields.Add($"lan: {nic.Lan}");
                }

                var impairs = nic.In == nic.Out
                    ? nic.In is null ? [] : [Impair("both", nic.In)]
                    : new[] { nic.In is null ? null : Impair("in", nic.In), nic.Out is null ? null : Impair("out", nic.Out) }.OfType<string>().ToList();
                if (impairs.Count > 0)
                {
                    fields.Add($"impair: {(impairs.Count == 1 ? impairs[0] : $"[{string.Join(", ", impairs)}]")}");
                }

                sb.AppendLine(CultureInfo.InvariantCulture, $"      - {{{string.Join(", ", fields)}}}");
            }
        }

        return sb.ToString();
    }

    private static string Impair(string dir, ImpairmentSpec s)
    {
        var fields = new List<string> { $"dir: {dir}" };
        void Add(string key, double value)
        {
            if (value != 0)
            {
                fields.Add(FormattableString.Invariant($"{key}: {value:R}"));
            }
        }

        Add("delay", s.DelayMs);
        Add("jitter", s.JitterMs);
        Add("loss", s.LossPercent);
        Add("rate", s.RateMbit);
        return $"{{{string.Join(", ", fields)}}}";
    }

    /// <summary>A plain scalar when it is one YAML reads back as the same string, else double-quoted.</summary>
    private static string Text(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/') && !char.IsAsciiDigit(value[0]) && value[0] != '-'
            ? value
            : "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
