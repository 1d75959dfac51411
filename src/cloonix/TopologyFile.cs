using CloonixActors.Protocol;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace CloonixActors.Cli;

/// <summary>
/// A lab as a file, deployed in one request:
/// <code>
/// lans: [lan1, lan2]
/// nodes:
///   - name: c1
///     kind: cnt
///     nics: 2
///     connect: [lan1, lan2]   # nic i joins connect[i]; "-" leaves it unconnected
/// </code>
/// </summary>
public static class TopologyFile
{
    public sealed class Document
    {
        public List<string>? Lans { get; set; }

        public List<NodeEntry>? Nodes { get; set; }
    }

    public sealed class NodeEntry
    {
        public string? Name { get; set; }

        public string Kind { get; set; } = "cnt";

        public int Nics { get; set; } = 1;

        public List<string?>? Connect { get; set; }
    }

    public static DeployTopology Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ClientException($"cannot read {path}: {ex.Message}", 2);
        }

        return Parse(text, path);
    }

    public static DeployTopology Parse(string text, string source)
    {
        Document doc;
        try
        {
            var deserializer = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
            doc = deserializer.Deserialize<Document?>(text) ?? new Document();
        }
        catch (YamlException ex)
        {
            throw new ClientException($"{source}: line {ex.Start.Line}: {ex.InnerException?.Message ?? ex.Message}", 2);
        }

        var nodes = doc.Nodes ?? [];
        var bad = nodes.FirstOrDefault(n => n.Kind != "cnt");
        if (bad is not null)
        {
            throw new ClientException($"{source}: node '{bad.Name}': kind '{bad.Kind}' is not supported here (cnt)", 2);
        }

        var tooMany = nodes.FirstOrDefault(n => (n.Connect?.Count ?? 0) > n.Nics);
        if (tooMany is not null)
        {
            throw new ClientException($"{source}: node '{tooMany.Name}' connects {tooMany.Connect!.Count} nics but has {tooMany.Nics}", 2);
        }

        return new DeployTopology(
            [.. doc.Lans ?? []],
            [.. nodes.Select(n => new ContainerSpec(n.Name ?? string.Empty, n.Nics))],
            [.. nodes.SelectMany(n => (n.Connect ?? []).Select((lan, i) => (n, lan, i)))
                .Where(x => !string.IsNullOrEmpty(x.lan) && x.lan != "-")
                .Select(x => new EndpointSpec(x.n.Name ?? string.Empty, x.i, x.lan!))]);
    }
}
