using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix status: this host, every host of the cluster, where the coordinator runs.</summary>
internal static class StatusVerb
{
    public static Command Create()
    {
        var status = new Command("status", "this host (Open vSwitch processes, state dir, persistence, uptime), every host of the cluster, where the coordinator runs");
        status.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new GetStatus()));
        return status;
    }
}
