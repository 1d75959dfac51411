using System.CommandLine;
using CloonixActors.Domain;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix graph [--format mermaid|dot|json]: the running lab as the source of a picture.</summary>
internal static class GraphVerb
{
    public static Command Create()
    {
        var format = new Option<string>("--format") { Description = "mermaid (paste into Markdown), dot (Graphviz) or json", DefaultValueFactory = _ => LabGraph.Mermaid };
        format.AcceptOnlyFromAmong(LabGraph.Formats);
        var graph = new Command("graph", "the lab as a picture source: hosts as groups, lans, nodes, nics labelled with their kind") { format };
        graph.SetAction((r, _) => VerbActions.WithConnectionAsync(r, async c =>
        {
            var listing = await LabClient.ListAsync(c, GlobalOptions.TimeoutOf(r)).ConfigureAwait(false);
            Console.Write(LabGraph.Render(listing, r.GetValue(format)!));
            return 0;
        }));
        return graph;
    }
}
