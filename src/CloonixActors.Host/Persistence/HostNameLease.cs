using Npgsql;

namespace CloonixActors.Host.Persistence;

/// <summary>
/// One cloonixd per host name on a shared PostgreSQL journal: two daemons writing the same persistence id
/// would interleave sequence numbers and corrupt the host's journal. A row per host name says which state
/// dir holds it and when it was last renewed (every few seconds while the daemon runs). A start is refused
/// while another state dir renewed the row recently; the same state dir (a restart after a crash: the state
/// dir lock proves the previous daemon is gone) or a lapsed row takes it at once.
/// </summary>
public sealed class HostNameLease : IAsyncDisposable
{
    /// <summary>How often a running daemon renews its row.</summary>
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(5);

    /// <summary>A row not renewed for this long belongs to a daemon that is gone.</summary>
    public static readonly TimeSpan Lapse = TimeSpan.FromSeconds(20);

    private const string CreateTable = """
        CREATE TABLE IF NOT EXISTS cloonix_host_lease (
          host_name text PRIMARY KEY,
          holder text NOT NULL,
          holder_info text NOT NULL,
          renewed timestamptz NOT NULL)
        """;

    private readonly string _connectionString;
    private readonly string _host;
    private readonly string _holder;
    private readonly TextWriter _error;
    private readonly CancellationTokenSource _stop = new();
    private Task _renewing = Task.CompletedTask;

    private HostNameLease(string connectionString, string host, string holder, TextWriter error)
    {
        _connectionString = connectionString;
        _host = host;
        _holder = holder;
        _error = error;
    }

    /// <summary>The lease, or null after one line on <paramref name="error"/> saying who holds the name.</summary>
    public static async Task<HostNameLease?> TryAcquireAsync(string connectionString, CloonixHostOptions options, TextWriter error)
    {
        var holder = HolderId(options.StateDir);
        var info = $"machine {Environment.MachineName}, state dir {options.StateDir}, pid {Environment.ProcessId}";
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync().ConfigureAwait(false);
            await using (var create = new NpgsqlCommand(CreateTable, connection))
            {
                await create.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await using var tx = await connection.BeginTransactionAsync().ConfigureAwait(false);
            // A concurrent first start waits on the primary key here, then sees the other's row below.
            await using (var insert = new NpgsqlCommand("INSERT INTO cloonix_host_lease VALUES (@h, @me, @info, now()) ON CONFLICT (host_name) DO NOTHING", connection, tx))
            {
                AddParameters(insert, options.HostName, holder, info);
                if (await insert.ExecuteNonQueryAsync().ConfigureAwait(false) == 1)
                {
                    await tx.CommitAsync().ConfigureAwait(false);
                    return Started(connectionString, options.HostName, holder, error);
                }
            }

            await using (var read = new NpgsqlCommand("SELECT holder, holder_info, extract(epoch FROM now() - renewed)::float8 FROM cloonix_host_lease WHERE host_name = @h FOR UPDATE", connection, tx))
            {
                read.Parameters.AddWithValue("h", options.HostName);
                await using var row = await read.ExecuteReaderAsync().ConfigureAwait(false);
                await row.ReadAsync().ConfigureAwait(false);
                var (other, otherInfo, age) = (row.GetString(0), row.GetString(1), TimeSpan.FromSeconds(row.GetDouble(2)));
                if (other != holder && age < Lapse)
                {
                    await error.WriteLineAsync($"cloonixd: host name '{options.HostName}' is in use on this journal database by another cloonixd ({otherInfo}, alive {Math.Max(0, age.TotalSeconds):0} s ago): give this host another --name, or stop that one (the name is free {Lapse.TotalSeconds:0} s after it stops)").ConfigureAwait(false);
                    return null;
                }
            }

            await using (var update = new NpgsqlCommand("UPDATE cloonix_host_lease SET holder = @me, holder_info = @info, renewed = now() WHERE host_name = @h", connection, tx))
            {
                AddParameters(update, options.HostName, holder, info);
                await update.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await tx.CommitAsync().ConfigureAwait(false);
            return Started(connectionString, options.HostName, holder, error);
        }
        catch (NpgsqlException ex)
        {
            await error.WriteLineAsync($"cloonixd: cannot take the host name '{options.HostName}' on the journal database {options.PersistenceDescription}: {JournalWrites.Describe(ex)}").ConfigureAwait(false);
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _renewing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            // A clean stop frees the name at once (a host moved to another state dir need not wait).
            await using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync().ConfigureAwait(false);
            await using var delete = new NpgsqlCommand("DELETE FROM cloonix_host_lease WHERE host_name = @h AND holder = @me", connection);
            delete.Parameters.AddWithValue("h", _host);
            delete.Parameters.AddWithValue("me", _holder);
            await delete.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            // The database is down: the row lapses on its own.
        }

        _stop.Dispose();
    }

    private static HostNameLease Started(string connectionString, string host, string holder, TextWriter error)
    {
        var lease = new HostNameLease(connectionString, host, holder, error);
        lease._renewing = lease.RenewAsync();
        return lease;
    }

    /// <summary>Renews the row while the daemon runs; an outage only delays it (the journal's own health shows in `status`).</summary>
    private async Task RenewAsync()
    {
        using var timer = new PeriodicTimer(RenewEvery);
        var lost = false;
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
        {
            try
            {
                await using var connection = new NpgsqlConnection(_connectionString);
                await connection.OpenAsync(_stop.Token).ConfigureAwait(false);
                await using var renew = new NpgsqlCommand("UPDATE cloonix_host_lease SET renewed = now() WHERE host_name = @h AND holder = @me", connection);
                renew.Parameters.AddWithValue("h", _host);
                renew.Parameters.AddWithValue("me", _holder);
                var held = await renew.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false) == 1;
                if (!held && !lost)
                {
                    await _error.WriteLineAsync($"cloonixd: another cloonixd took the host name '{_host}' on the journal database while this one could not reach it: stop one of them").ConfigureAwait(false);
                }

                lost = !held;
            }
            catch (NpgsqlException)
            {
                // Unreachable for now: the next tick tries again.
            }
        }
    }

    private static void AddParameters(NpgsqlCommand command, string host, string holder, string info)
    {
        command.Parameters.AddWithValue("h", host);
        command.Parameters.AddWithValue("me", holder);
        command.Parameters.AddWithValue("info", info);
    }

    /// <summary>A random id kept in the state dir: the same dir after a restart, never the same on two machines.</summary>
    private static string HolderId(string stateDir)
    {
        var path = Path.Combine(stateDir, "holder-id");
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: 32 } id)
        {
            return id;
        }

        var fresh = Guid.NewGuid().ToString("N");
        File.WriteAllText(path, fresh + "\n");
        return fresh;
    }
}
