using System.CommandLine;
using CloonixActors.Domain;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix save FILE|-: the running lab as a topology file that `deploy` makes again.</summary>
internal static class SaveVerb
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "where to write the topology file, or - for standard output" };
        var save = new Command("save", "write the running lab (lans, nodes, nic kinds, endpoints, impairments, hosts) as a topology file") { file };
        save.SetAction((r, _) => VerbActions.WithConnectionAsync(r, async c =>
        {
            var lab = LabClient.Current(await LabClient.ListAsync(c, GlobalOptions.TimeoutOf(r)).ConfigureAwait(false), null, "the lab");
            var text = TopologyFile.Write(lab);
            var path = r.GetValue(file)!;
            if (path == "-")
            {
                Console.Write(text);
                return 0;
            }

            try
            {
                await File.WriteAllTextAsync(path, text).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ClientException($"cannot write {path}: {ex.Message}", 1);
            }

            Console.WriteLine($"saved {lab.Lans.Length} lan(s) and {lab.Nodes.Length} node(s) to {path}");
            return 0;
        }));
        return save;
    }
}
