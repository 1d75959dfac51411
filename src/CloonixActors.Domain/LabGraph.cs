using System.Globalization;
using System.Text;
using System.Text.Json;
using CloonixActors.Protocol;

namespace CloonixActors.Domain;

/// <summary>
/// `cloonix graph`: the running lab as the source of a picture. Hosts are groups holding their nodes and
/// the lans that have segments on that host only; a lan that spans hosts sits outside every group. Each
/// link is a nic, labelled with its number and kind (v, d or s). Pure: a listing in, text out.
/// </summary>
public static class LabGraph
{
    public const string Mermaid = "mermaid";
    public const string Dot = "dot";
    public const string Json = "json";

    public static readonly string[] Formats = [Mermaid, Dot, Json];

    private sealed record Shape(
        IReadOnlyList<(string Host, IReadOnlyList<NodeView> Nodes, IReadOnlyList<string> Lans)> Hosts,
        IReadOnlyList<string> SpanningLans,
        IReadOnlyList<(string Node, int Nic, string Kind, string Lan)> Links);

    public static string Render(TopologyListing listing, string format) => format switch
    {
        Mermaid => ToMermaid(listing),
        Dot => ToDot(listing),
        Json => ToJson(listing),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, $"formats are {string.Join(", ", Formats)}"),
    };

    private static Shape Of(TopologyListing listing)
    {
        var nodes = (listing.Nodes ?? []).OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
        var lanHosts = (listing.Lans ?? []).GroupBy(l => l.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(l => l.Host).Where(h => !string.IsNullOrEmpty(h)).Distinct().ToList(), StringComparer.Ordinal);
        var hosts = nodes.Select(n => n.Host).Concat(lanHosts.Values.SelectMany(h => h)).Where(h => !string.IsNullOrEmpty(h)).Distinct().Order(StringComparer.Ordinal)
            .Select(h => (h, (IReadOnlyList<NodeView>)nodes.Where(n => n.Host == h).ToList(), (IReadOnlyList<string>)lanHosts.Where(l => l.Value.Count == 1 && l.Value[0] == h).Select(l => l.Key).Order(StringComparer.Ordinal).ToList()))
            .ToList();
        var spanning = lanHosts.Where(l => l.Value.Count != 1).Select(l => l.Key).Order(StringComparer.Ordinal).ToList();
        var links = nodes.SelectMany(n => (n.Nics ?? []).Where(x => x.Lan is not null).Select(x => (n.Name, x.Index, Letter(x.Kind), x.Lan!))).ToList();
        return new Shape(hosts, spanning, links);
    }

    /// <summary>The nic letter of a listing's kind ("veth" is a container's v).</summary>
    private static string Letter(string kind) => NicKinds.FromName(kind) is { } k ? NicKinds.Letter(k).ToString() : "?";

    private static string NodeLabel(NodeView n) => n.Kind == "vm"
        ? string.Create(CultureInfo.InvariantCulture, $"{n.Name} vm {n.RamMb} MB")
        : $"{n.Name} {n.Kind}";

    /// <summary>Names are [a-z0-9_-]: a prefix keeps node and lan ids apart, '-' is spelled out for Mermaid.</summary>
    private static string Id(string prefix, string name) => prefix + "_" + name.Replace("-", "__", StringComparison.Ordinal);

    private static string ToMermaid(TopologyListing listing)
    {
        var s = Of(listing);
        var sb = new StringBuilder();
        sb.AppendLine("flowchart LR");
        foreach (var (host, nodes, lans) in s.Hosts)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  subgraph {Id("host", Safe(host))}[\"host {Quote(host)}\"]");
            foreach (var n in nodes)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"    {Id("node", n.Name)}[\"{Quote(NodeLabel(n))}\"]");
            }

            foreach (var l in lans)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"    {Id("lan", l)}([\"{l}\"])");
            }

            sb.AppendLine("  end");
        }

        foreach (var l in s.SpanningLans)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {Id("lan", l)}([\"{l}\"])");
        }

        foreach (var (node, nic, kind, lan) in s.Links)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {Id("node", node)} ---|\"eth{nic} {kind}\"| {Id("lan", lan)}");
        }

        return sb.ToString();
    }

    private static string ToDot(TopologyListing listing)
    {
        var s = Of(listing);
        var sb = new StringBuilder();
        sb.AppendLine("graph lab {");
        sb.AppendLine("  node [fontname=\"sans-serif\"];");
        foreach (var (host, nodes, lans) in s.Hosts)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  subgraph \"cluster_{Quote(host)}\" {{");
            sb.AppendLine(CultureInfo.InvariantCulture, $"    label=\"host {Quote(host)}\";");
            foreach (var n in nodes)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"    \"node:{n.Name}\" [shape=box, label=\"{Quote(NodeLabel(n))}\"];");
            }

            foreach (var l in lans)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"    \"lan:{l}\" [shape=ellipse, label=\"{l}\"];");
            }

            sb.AppendLine("  }");
        }

        foreach (var l in s.SpanningLans)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  \"lan:{l}\" [shape=ellipse, label=\"{l}\"];");
        }

        foreach (var (node, nic, kind, lan) in s.Links)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  \"node:{node}\" -- \"lan:{lan}\" [label=\"eth{nic} {kind}\"];");
        }

        sb.AppendLine("}");
        return sb.ToString();
    }

    private static string ToJson(TopologyListing listing)
    {
        var s = Of(listing);
        var graph = new
        {
            hosts = s.Hosts.Select(h => new { name = h.Host, nodes = h.Nodes.Select(n => n.Name), lans = h.Lans }),
            spanningLans = s.SpanningLans,
            nodes = s.Hosts.SelectMany(h => h.Nodes).Select(n => new { name = n.Name, kind = n.Kind, host = n.Host, nics = (n.Nics ?? []).Select(x => new { index = x.Index, kind = Letter(x.Kind), lan = x.Lan }) }),
            links = s.Links.Select(l => new { node = l.Node, nic = l.Nic, kind = l.Kind, lan = l.Lan }),
        };
        return JsonSerializer.Serialize(graph, new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Host names come from the daemons' --name: kept printable and free of quotes in the output.</summary>
    private static string Quote(string text) => Names.Printable(text).Replace("\"", "'", StringComparison.Ordinal).Replace("\\", "/", StringComparison.Ordinal);

    private static string Safe(string host) => new([.. host.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_')]);
}
