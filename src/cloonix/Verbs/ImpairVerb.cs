using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix impair NODE NIC [--delay] [--jitter] [--loss] [--rate] [--dir]: an s nic's impairment, at run time.</summary>
internal static class ImpairVerb
{
    public static Command Create()
    {
        var node = new Argument<string>("NODE");
        var nic = new Argument<int>("NIC") { Description = "an s nic's number" };
        var delay = new Option<double>("--delay") { Description = "added one-way delay, ms" };
        var jitter = new Option<double>("--jitter") { Description = "delay variation, ms (at most the delay; never reorders)" };
        var loss = new Option<double>("--loss") { Description = "random loss, percent" };
        var rate = new Option<double>("--rate") { Description = "rate cap, Mbit/s (0: none)" };
        var dir = new Option<string>("--dir") { Description = "in (towards the node), out (from it) or both", DefaultValueFactory = _ => "both" };
        var impair = new Command("impair", "delay, jitter, loss and rate cap on an s nic, at run time (all zero: none)") { node, nic, delay, jitter, loss, rate, dir };
        impair.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new ImpairNic(r.GetValue(node)!, r.GetValue(nic), r.GetValue(dir)!, r.GetValue(delay), r.GetValue(jitter), r.GetValue(loss), r.GetValue(rate))));
        return impair;
    }
}
