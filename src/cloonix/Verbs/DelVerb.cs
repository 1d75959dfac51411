using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix del NAME [--force]: a node, or a lan (with --force even while nics are attached).</summary>
internal static class DelVerb
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME") { Description = "a node or a lan" };
        var force = new Option<bool>("--force") { Description = "delete a lan even while nics are attached (they are disconnected)" };
        var del = new Command("del", "delete a node or a lan") { name, force };
        del.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new DeleteObject(r.GetValue(name)!, r.GetValue(force))));
        return del;
    }
}
