using System.CommandLine;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>
/// cloonix destroy FILE: removes the nodes, then the lans, that the file names, and nothing else. Checked
/// whole first: a name the lab holds as something else, or a lan that still has nics of nodes the file
/// does not name, refuses it before anything is removed.
/// </summary>
internal static class DestroyVerb
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "a topology file (YAML), or - for standard input" };
        var destroy = new Command("destroy", "remove what a topology file names (its nodes, then its lans), nothing else") { file };
        destroy.SetAction((r, _) =>
        {
            var path = r.GetValue(file)!;
            var lab = TopologyFile.Load(path);
            return VerbActions.WithConnectionAsync(r, c => RunAsync(c, lab, path, GlobalOptions.JsonOf(r), GlobalOptions.TimeoutOf(r)));
        });
        return destroy;
    }

    private static async Task<int> RunAsync(ClusterConnection connection, LabFile lab, string path, bool json, TimeSpan timeout)
    {
        var current = LabClient.Current(await LabClient.ListAsync(connection, timeout).ConfigureAwait(false), lab, path);
        var (delete, problem) = LabDiff.DestroyPlan(lab, current);
        if (problem is not null)
        {
            throw new ClientException($"{path}: {problem}; nothing was removed", 1);
        }

        foreach (var name in delete)
        {
            var reply = await connection.AskAsync(new DeleteObject(name, Force: false), timeout).ConfigureAwait(false);
            if (reply is not CommandSucceeded)
            {
                return Output.Print(reply, json);
            }
        }

        var nodes = delete.Count(n => lab.Nodes.Any(x => x.Name == n));
        return Output.Print(new CommandSucceeded(delete.Count == 0 ? $"nothing to remove: the lab holds nothing {path} names" : $"destroyed {nodes} node(s) and {delete.Count - nodes} lan(s)"), json);
    }
}
