using System.Collections.Immutable;
using Akka.Persistence;

namespace CloonixActors.Host.Persistence;

/// <summary>
/// Turns a failed or hung journal write into a rejection of each of its atomic writes. Akka.Persistence
/// stops a persistent actor whose write failed (it cannot know what was stored) but keeps one whose write
/// was rejected; our actors treat a <see cref="JournalUnavailableException"/> rejection as "journal down",
/// refuse changes, and read the journal back before writing again, which settles what was stored.
/// </summary>
public static class JournalWrites
{
    public static async Task<IImmutableList<Exception>> Guard(IReadOnlyCollection<AtomicWrite> writes, Func<IEnumerable<AtomicWrite>, Task<IImmutableList<Exception>>> write, TimeSpan timeout)
    {
        Task<IImmutableList<Exception>> attempt;
        try
        {
            attempt = write(writes);
        }
        catch (Exception ex)
        {
            return Rejected(writes, new JournalUnavailableException(Describe(ex), ex));
        }

        if (await Task.WhenAny(attempt, Task.Delay(timeout)).ConfigureAwait(false) != attempt)
        {
            // The write goes on in the background; its outcome is observed so it never goes unobserved.
            _ = attempt.ContinueWith(t => t.Exception, TaskScheduler.Default);
            return Rejected(writes, new JournalUnavailableException($"no answer from the journal within {timeout.TotalSeconds:0} s") { MayHaveBeenWritten = true });
        }

        try
        {
            return await attempt.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            return Rejected(writes, new JournalUnavailableException(Describe(ex), ex));
        }
    }

    /// <summary>
    /// One line for people: the database error (Npgsql, SQLite) with its innermost cause when that says more,
    /// e.g. "Failed to connect to 127.0.0.1:5432 (Connection refused)".
    /// </summary>
    public static string Describe(Exception ex)
    {
        var top = ex is AggregateException agg ? agg.Flatten().InnerExceptions.FirstOrDefault() ?? ex : ex;
        var chain = new List<Exception>();
        for (var e = top; e is not null; e = e.InnerException)
        {
            chain.Add(e);
        }

        var db = chain.FirstOrDefault(e => e is System.Data.Common.DbException) ?? chain[^1];
        var innermost = chain[^1];
        var text = OneLine(db.Message);
        return innermost != db && !text.Contains(OneLine(innermost.Message), StringComparison.Ordinal)
            ? $"{text} ({OneLine(innermost.Message)})"
            : text;
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.');

    private static ImmutableList<Exception> Rejected(IReadOnlyCollection<AtomicWrite> writes, Exception cause) =>
        [.. writes.Select(_ => cause)];
}
