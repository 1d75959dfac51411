using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>
/// The two ways a verb talks to the cluster: one request whose reply is printed (a table, or JSON with
/// --json), or a connection the verb drives itself (streams, the lab-file verbs).
/// </summary>
internal static class VerbActions
{
    public static Task<int> AskAndPrintAsync(ParseResult r, IClientCommand command) => AskAndPrintAsync(r, command, GlobalOptions.TimeoutOf(r));

    public static async Task<int> AskAndPrintAsync(ParseResult r, IClientCommand command, TimeSpan timeout)
    {
        await using var connection = await GlobalOptions.OpenConnectionAsync(r).ConfigureAwait(false);
        var reply = await connection.AskAsync(command, timeout).ConfigureAwait(false);
        return Output.Print(reply, GlobalOptions.JsonOf(r));
    }

    public static async Task<int> WithConnectionAsync(ParseResult r, Func<ClusterConnection, Task<int>> run)
    {
        await using var connection = await GlobalOptions.OpenConnectionAsync(r).ConfigureAwait(false);
        return await run(connection).ConfigureAwait(false);
    }
}
