using System.CommandLine;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix spy NODE NIC --pcap FILE|- | --fifo PATH [--duration S]: an s nic's traffic as pcap.</summary>
internal static class SpyVerb
{
    public static Command Create()
    {
        var node = new Argument<string>("NODE");
        var nic = new Argument<int>("NIC") { Description = "an s nic's number" };
        var pcap = new Option<string?>("--pcap") { Description = "write the capture to FILE, or to standard output with - (cloonix spy vm1 0 --pcap - | wireshark -k -i -)" };
        var fifo = new Option<string?>("--fifo") { Description = "write the capture into a FIFO (made if missing) for wireshark -k -i FIFO" };
        var seconds = new Option<double>("--duration") { Description = "stop after this many seconds (default: until Ctrl-C)" };
        var spy = new Command("spy", "capture an s nic's traffic, both directions, as pcap, while the lab runs") { node, nic, pcap, fifo, seconds };
        spy.SetAction((r, _) => Spy(r, r.GetValue(node)!, r.GetValue(nic), r.GetValue(pcap), r.GetValue(fifo), r.GetValue(seconds)));
        return spy;
    }

    private static Task<int> Spy(ParseResult r, string node, int nic, string? pcap, string? fifo, double seconds)
    {
        if ((pcap is null) == (fifo is null))
        {
            throw new ClientException("spy needs one of --pcap FILE, --pcap - or --fifo PATH", 2);
        }

        Func<Stream> open = fifo is not null ? () => Streams.OpenFifo(fifo)
            : pcap == "-" ? Console.OpenStandardOutput
            : () => File.Create(pcap!);
        return VerbActions.WithConnectionAsync(r, c => Streams.CaptureAsync(c, node, nic, open, seconds, GlobalOptions.JsonOf(r), GlobalOptions.TimeoutOf(r)));
    }
}
