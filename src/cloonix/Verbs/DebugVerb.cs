using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix debug fail-relay NODE NIC (hidden): fault injection for tests.</summary>
internal static class DebugVerb
{
    public static Command Create()
    {
        var debug = new Command("debug", "fault injection for tests") { FailRelay() };
        debug.Hidden = true;
        return debug;
    }

    private static Command FailRelay()
    {
        var node = new Argument<string>("NODE");
        var nic = new Argument<int>("NIC");
        var failRelay = new Command("fail-relay", "make an s nic's relay thread fail (needs cloonix.fault-injection = on)") { node, nic };
        failRelay.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new InjectRelayFault(r.GetValue(node)!, r.GetValue(nic))));
        return failRelay;
    }
}
