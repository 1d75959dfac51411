using System.Text;
using System.Text.Json;
using CloonixActors.Protocol;

namespace CloonixActors.Cli;

/// <summary>Tables for people, JSON for scripts; errors as one line on stderr.</summary>
public static class Output
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static int Print(IClientReply reply, bool json)
    {
        switch (reply)
        {
            case CommandFailed f:
                Console.Error.WriteLine($"cloonix: {f.Message}");
                return 1;
            case ExecResult x:
                Console.Out.Write(x.Stdout);
                Console.Error.Write(x.Stderr);
                if (x.TimedOut)
                {
                    Console.Error.WriteLine("cloonix: the program was killed after its timeout");
                    return 124;
                }

                return x.ExitCode;
            case CommandSucceeded s when json:
                Console.WriteLine(JsonSerializer.Serialize(new { ok = true, message = s.Message }, JsonOptions));
                return 0;
            case CommandSucceeded s:
                Console.WriteLine(s.Message);
                return 0;
            case TopologyListing l when json:
                Console.WriteLine(JsonSerializer.Serialize(l, JsonOptions));
                return 0;
            case TopologyListing l:
                Console.Write(Listing(l));
                return 0;
            case StatusReport s when json:
                Console.WriteLine(JsonSerializer.Serialize(s, JsonOptions));
                return 0;
            case StatusReport s:
                Console.Write(Status(s));
                return 0;
            default:
                Console.Error.WriteLine($"cloonix: unexpected reply {reply.GetType().Name}");
                return 1;
        }
    }

    public static string Listing(TopologyListing l)
    {
        var sb = new StringBuilder();
        var nodeRows = l.Nodes.SelectMany(n => n.Nics.Select(nic => new[] { n.Name, n.Kind, n.Host, $"eth{nic.Index}", nic.Kind, nic.Lan ?? "-", nic.HostInterface, nic.Impairment ?? "-" }));
        sb.Append(Table(["NODE", "KIND", "HOST", "NIC", "TYPE", "LAN", "PORT", "IMPAIRMENT"], nodeRows));
        sb.AppendLine();
        var lanRows = l.Lans.Select(x => new[] { x.Name, x.Host.Length == 0 ? "-" : x.Host, x.Bridge.Length == 0 ? "-" : x.Bridge, x.Vni == 0 ? "-" : x.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture), x.Mtu == 0 ? "-" : x.Mtu.ToString(System.Globalization.CultureInfo.InvariantCulture), x.Members.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), string.Join(' ', x.Members) });
        sb.Append(Table(["LAN", "HOST", "BRIDGE", "VNI", "MTU", "NICS", "MEMBERS"], lanRows));
        return sb.ToString();
    }

    public static string Status(StatusReport s)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"host         {s.HostName}");
        sb.AppendLine($"uptime       {s.Uptime:d\\.hh\\:mm\\:ss}");
        sb.AppendLine($"state dir    {s.StateDir}");
        sb.AppendLine($"persistence  {s.Persistence}");
        if (!string.IsNullOrEmpty(s.Journal))
        {
            sb.AppendLine($"journal      {s.Journal}");
        }

        sb.AppendLine($"datapath     {s.Datapath}");
        sb.AppendLine($"vms          {s.Acceleration}");
        sb.AppendLine($"topology     {s.Nodes} node(s), {s.Lans} lan(s), {s.Endpoints} endpoint(s)");
        sb.AppendLine();
        sb.Append(Table(["PROCESS", "PID", "RESTARTS"], s.Processes.Select(p => new[] { p.Name, p.Pid == 0 ? "-" : p.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), p.Restarts.ToString(System.Globalization.CultureInfo.InvariantCulture) })));
        sb.AppendLine();
        sb.Append(Table(["MEMBER", "STATUS", "ROLES"], s.Members.Select(m => new[] { m.Address, m.Status, string.Join(',', m.Roles) })));
        if (!string.IsNullOrEmpty(s.Coordinator))
        {
            sb.AppendLine();
            sb.AppendLine($"coordinator  {s.Coordinator}");
            if (!string.IsNullOrEmpty(s.CoordinatorJournal))
            {
                sb.AppendLine($"its journal  {s.CoordinatorJournal}");
            }

            string Roles(HostView h) => s.Members.FirstOrDefault(m => m.Address == h.Address) is { } m ? string.Join(',', m.Roles) : "-";
            sb.Append(Table(["HOST", "ADDRESS", "STATE", "ROLES", "TUNNELS FROM", "NODES", "LAN SEGMENTS"], (s.Hosts ?? []).Select(h => new[] { h.Name, h.Address, h.State, Roles(h), string.IsNullOrEmpty(h.TunnelAddress) ? "-" : h.TunnelAddress, h.Nodes.ToString(System.Globalization.CultureInfo.InvariantCulture), h.Segments.ToString(System.Globalization.CultureInfo.InvariantCulture) })));
        }

        return sb.ToString();
    }

    /// <summary>One line of live counters: the "blinking" of an s nic.</summary>
    public static string Traffic(NicTraffic t) => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"{t.At:HH:mm:ss} {t.Host} {t.Node}/{t.Nic}  in {t.PacketsPerSecondIn,8:0} pkt/s {t.BitsPerSecondIn / 1e6,9:0.000} Mbit/s  out {t.PacketsPerSecondOut,8:0} pkt/s {t.BitsPerSecondOut / 1e6,9:0.000} Mbit/s  total in {t.PacketsIn} pkt {t.BytesIn} B, out {t.PacketsOut} pkt {t.BytesOut} B, drops {t.Drops}{(t.RelayRestarts > 0 ? $", relay restarts {t.RelayRestarts}" : string.Empty)}");

    public static string TrafficJson(NicTraffic t) => JsonSerializer.Serialize(t, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });

    public static string CaptureSummary(CaptureStopped s, bool json) => json
        ? JsonSerializer.Serialize(s, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase })
        : $"cloonix: capture of {s.Node}/{s.Nic} ended ({s.Reason}): {s.Frames} frame(s) written, {s.Dropped} dropped by a slow reader, {s.Counted} counted by the relay";

    private static string Table(string[] header, IEnumerable<string[]> rows)
    {
        var all = rows.Prepend(header).ToList();
        var widths = Enumerable.Range(0, header.Length).Select(i => all.Max(r => r[i].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var row in all)
        {
            sb.AppendLine(string.Join("  ", row.Select((c, i) => i == row.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd());
        }

        return sb.ToString();
    }
}
