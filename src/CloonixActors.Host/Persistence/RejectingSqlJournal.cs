using System.Collections.Immutable;
using Akka.Persistence;
using Akka.Persistence.Sql.Journal;

namespace CloonixActors.Host.Persistence;

/// <summary>
/// The SQL journal (SQLite or PostgreSQL) whose failed writes are rejections (see <see cref="JournalWrites"/>):
/// a database outage refuses changes without stopping the host agent or the coordinator.
/// </summary>
public sealed class RejectingSqlJournal : SqlWriteJournal
{
    private readonly TimeSpan _timeout;

    public RejectingSqlJournal(Akka.Configuration.Config journalConfig)
        : base(journalConfig)
    {
        // Answer before the journal's own call timeout, which would count as a failure and stop the writer.
        var callTimeout = journalConfig.GetTimeSpan("circuit-breaker.call-timeout", TimeSpan.FromSeconds(10));
        _timeout = callTimeout * 0.8;
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken) =>
        JournalWrites.Guard([.. messages], m => base.WriteMessagesAsync(m, cancellationToken), _timeout);
}
