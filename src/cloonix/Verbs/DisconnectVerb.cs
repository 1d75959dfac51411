using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix disconnect NODE NIC.</summary>
internal static class DisconnectVerb
{
    public static Command Create()
    {
        var node = new Argument<string>("NODE");
        var nic = new Argument<int>("NIC");
        var disconnect = new Command("disconnect", "disconnect a node's nic from its lan") { node, nic };
        disconnect.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new DisconnectNic(r.GetValue(node)!, r.GetValue(nic))));
        return disconnect;
    }
}
