using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix purge: every node and lan, and everything the project created on the host, removed.</summary>
internal static class PurgeVerb
{
    public static Command Create()
    {
        var purge = new Command("purge", "remove every node and lan, and everything the project created on the host");
        purge.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new PurgeAll()));
        return purge;
    }
}
