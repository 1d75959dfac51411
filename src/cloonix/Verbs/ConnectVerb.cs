using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix connect NODE NIC LAN.</summary>
internal static class ConnectVerb
{
    public static Command Create()
    {
        var node = new Argument<string>("NODE");
        var nic = new Argument<int>("NIC") { Description = "nic number, from 0" };
        var lan = new Argument<string>("LAN");
        var connect = new Command("connect", "connect a node's nic to a lan") { node, nic, lan };
        connect.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new ConnectNic(r.GetValue(node)!, r.GetValue(nic), r.GetValue(lan)!)));
        return connect;
    }
}
