using Microsoft.Data.Sqlite;
using Npgsql;

namespace CloonixActors.Host.Persistence;

/// <summary>
/// The journal's check at start-up, before any actor runs: a SQLite file that is not a database, or a
/// PostgreSQL server that cannot be reached, is one line on stderr instead of a stack trace from the first
/// recovery. With PostgreSQL it also takes this host name's lease (<see cref="HostNameLease"/>).
/// </summary>
public static class JournalProbe
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>What holds the journal for this daemon (dispose at exit), or null after one line on <paramref name="error"/>.</summary>
    public static async Task<IAsyncDisposable?> OpenAsync(CloonixHostOptions options, TextWriter error)
    {
        var problem = options.Persistence == "postgresql"
            ? await PostgresProblemAsync(options).ConfigureAwait(false)
            : SqliteProblem(options.JournalFile);
        if (problem is not null)
        {
            await error.WriteLineAsync($"cloonixd: {problem}").ConfigureAwait(false);
            return null;
        }

        if (options.Persistence != "postgresql")
        {
            return new NoLease(); // one SQLite file per state dir, and the state dir is locked
        }

        var lease = await HostNameLease.TryAcquireAsync(PostgresConnectionString(options), options, error).ConfigureAwait(false);
        return lease;
    }

    /// <summary>Null when the file is absent (a first start) or a sound SQLite database, else why not.</summary>
    public static string? SqliteProblem(string file)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
            connection.Open();
            using var check = connection.CreateCommand();
            check.CommandText = "PRAGMA quick_check";
            var result = check.ExecuteScalar() as string;
            return result == "ok" ? null : $"the journal {file} is damaged ({result}): move it away to start with an empty lab, or put back a copy";
        }
        catch (SqliteException ex)
        {
            return $"the journal {file} is not a usable SQLite database ({JournalWrites.Describe(ex)}): move it away to start with an empty lab, or put back a copy";
        }
    }

    private static async Task<string?> PostgresProblemAsync(CloonixHostOptions options)
    {
        try
        {
            await using var connection = new NpgsqlConnection(PostgresConnectionString(options));
            await connection.OpenAsync().ConfigureAwait(false);
            await using var ping = new NpgsqlCommand("SELECT 1", connection);
            await ping.ExecuteScalarAsync().ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or ArgumentException or InvalidOperationException)
        {
            return $"cannot reach the journal database {options.PersistenceDescription}: {JournalWrites.Describe(ex)}";
        }
    }

    /// <summary>The daemon's connection string, with a short connect timeout unless it sets one.</summary>
    private static string PostgresConnectionString(CloonixHostOptions options)
    {
        var csb = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        if (!options.ConnectionString!.Contains("Timeout", StringComparison.OrdinalIgnoreCase))
        {
            csb.Timeout = (int)ConnectTimeout.TotalSeconds;
        }

        return csb.ToString();
    }

    private sealed class NoLease : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
