using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>
/// cloonix rtt NODE [--count N] (hidden): what one client process spends where, for bench/tls.py: runtime
/// start-up, opening the connection (ActorSystem and certificates), the first `ls` (association, TLS
/// handshake, contact discovery), then N `ls` and N `exec NODE -- true` round trips on the open connection.
/// </summary>
internal static class RttVerb
{
    public static Command Create()
    {
        var node = new Argument<string>("NODE") { Description = "a container to run `true` in" };
        var count = new Option<int>("--count") { Description = "round trips of each kind", DefaultValueFactory = _ => 20 };
        var rtt = new Command("rtt", "time client start-up and round trips (bench/tls.py)") { node, count };
        rtt.Hidden = true;
        rtt.SetAction(async (r, _) =>
        {
            var started = Process.GetCurrentProcess().StartTime.ToUniversalTime();
            var runtimeMs = (DateTime.UtcNow - started).TotalMilliseconds;
            var clock = Stopwatch.StartNew();
            await using var connection = await GlobalOptions.OpenConnectionAsync(r).ConfigureAwait(false);
            var openMs = clock.Elapsed.TotalMilliseconds;
            var timeout = TimeSpan.FromSeconds(30);
            clock.Restart();
            Expect<TopologyListing>(await connection.AskAsync(new ListTopology(), timeout).ConfigureAwait(false));
            var firstMs = clock.Elapsed.TotalMilliseconds;
            var ls = new List<double>();
            var exec = new List<double>();
            for (var i = 0; i < Math.Max(1, r.GetValue(count)); i++)
            {
                clock.Restart();
                Expect<TopologyListing>(await connection.AskAsync(new ListTopology(), timeout).ConfigureAwait(false));
                ls.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                Expect<ExecResult>(await connection.AskAsync(new ExecInNode(r.GetValue(node)!, ["true"], 10), timeout).ConfigureAwait(false));
                exec.Add(clock.Elapsed.TotalMilliseconds);
            }

            Console.WriteLine(JsonSerializer.Serialize(new
            {
                runtimeMs = Round(runtimeMs),
                openMs = Round(openMs),
                firstLsMs = Round(firstMs),
                lsMs = Round(Median(ls)),
                execMs = Round(Median(exec)),
            }));
            return 0;
        });
        return rtt;
    }

    private static void Expect<T>(IClientReply reply)
    {
        if (reply is not T)
        {
            throw new ClientException(reply is CommandFailed f ? f.Message : $"unexpected reply {reply.GetType().Name}", 1);
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
    }

    private static double Round(double ms) => Math.Round(ms, 2, MidpointRounding.AwayFromZero);
}
