using System.CommandLine;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix events [--count N] [--duration S]: the live traffic counters of every s nic.</summary>
internal static class EventsVerb
{
    public static Command Create()
    {
        var count = new Option<int>("--count") { Description = "stop after this many events" };
        var seconds = new Option<double>("--duration") { Description = "stop after this many seconds (default: until Ctrl-C)" };
        var events = new Command("events", "live traffic counters of every s nic in the cluster, about once a second") { count, seconds };
        events.SetAction((r, _) => VerbActions.WithConnectionAsync(r, c => Streams.EventsAsync(c, r.GetValue(count), r.GetValue(seconds), GlobalOptions.JsonOf(r), GlobalOptions.TimeoutOf(r))));
        return events;
    }
}
