using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix ls: the lab's nodes, nics and lans.</summary>
internal static class LsVerb
{
    public static Command Create()
    {
        var ls = new Command("ls", "list nodes, nics and lans");
        ls.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new ListTopology()));
        return ls;
    }
}
