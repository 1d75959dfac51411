using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Persistence;

/// <summary>
/// The one place where an event-sourced actor of this project writes to its journal: persist a decision's
/// events, fold each into the state, snapshot every N events (older snapshots deleted), and treat a refused
/// write as "journal down" (decision 0011): changes are refused, a catch-up read is probed with back-off, and
/// what a write thought lost stored after all is folded in when the journal answers. The host agent and the
/// lan-coordinator derive from it; they only say how to fold, what a snapshot is and what to do on return.
/// </summary>
/// <typeparam name="TEvent">The actor's event type (topology or registry events).</typeparam>
public abstract class JournaledActor<TEvent> : ReceivePersistentActor, IWithTimers
    where TEvent : class
{
    private readonly ILoggingAdapter _journalLog = Context.GetLogger();
    private Action<CommandFailed>? _onRejected;
    private bool _writeRejected;

    protected JournaledActor()
    {
        Command<ProbeJournal>(_ => JournalWatch.Probe(Context, PersistenceId));
        Command<JournalCaughtUp>(c =>
        {
            if (JournalWatch.IsCatchUp(Sender))
            {
                CaughtUp(c);
            }
        });
        Command<JournalStillDown>(d =>
        {
            if (JournalWatch.StillDown(Sender, d.Error, DateTime.UtcNow) is { } next)
            {
                Timers.StartSingleTimer(nameof(ProbeJournal), ProbeJournal.Instance, next);
            }
        });
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _journalLog.Warning("{0}: snapshot failed: {1}", JournalOwner, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _journalLog.Warning("{0}: old snapshots not deleted: {1}", JournalOwner, f.Cause.Message));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The journal's health and the last sequence number known to be stored.</summary>
    protected JournalWatch JournalWatch { get; } = new();

    /// <summary>Snapshot after this many events.</summary>
    protected abstract int SnapshotEvery { get; }

    /// <summary>Who this is in log lines ("host h1", "lan-coordinator").</summary>
    protected abstract string JournalOwner { get; }

    /// <summary>Folds one event into the state (recovery, a write, or a catch-up).</summary>
    protected abstract void Fold(TEvent e);

    /// <summary>The state as a snapshot.</summary>
    protected abstract object TakeSnapshot();

    /// <summary>The journal answers again; <paramref name="stored"/> (already folded) is what a write thought lost stored.</summary>
    protected abstract void JournalReturned(IReadOnlyList<TEvent> stored);

    /// <summary>Call once recovery is complete: the journal holds everything up to here.</summary>
    protected void Recovered() => JournalWatch.Recorded(LastSequenceNr);

    /// <summary>
    /// Persists <paramref name="events"/> in one write, folds each, snapshots when due, then calls
    /// <paramref name="then"/>. Nothing is written while the journal is down; a refused write calls
    /// <paramref name="refused"/> with the client's answer instead.
    /// </summary>
    protected void Record(IReadOnlyCollection<TEvent> events, Action then, Action<CommandFailed> refused)
    {
        if (events.Count == 0)
        {
            then();
            return;
        }

        if (JournalWatch.Health.IsDown)
        {
            refused(JournalWatch.Health.Refusal());
            return;
        }

        var done = 0;
        _onRejected = refused;
        _writeRejected = false;
        PersistAll(events, e =>
        {
            Fold(e);
            if (++done < events.Count)
            {
                return;
            }

            JournalWatch.Recorded(LastSequenceNr);
            _onRejected = null;
            if (LastSequenceNr % SnapshotEvery < events.Count)
            {
                SaveSnapshot(TakeSnapshot());
            }

            then();
        });
    }

    protected sealed override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        if (_writeRejected)
        {
            return; // the other events of the same write: one write, one answer
        }

        _writeRejected = true;
        var refused = _onRejected;
        _onRejected = null;
        if (cause is JournalUnavailableException)
        {
            _journalLog.Error("{0}: journal write failed: {1}; changes are refused until the journal answers (the data plane runs on)", JournalOwner, cause.Message);
            Timers.StartSingleTimer(nameof(ProbeJournal), ProbeJournal.Instance, JournalWatch.Failed(cause.Message, DateTime.UtcNow));
        }
        else
        {
            _journalLog.Error(cause, "{0}: the journal refused event {1}: {2}", JournalOwner, @event.GetType().Name, cause.Message);
        }

        refused?.Invoke(JournalHealth.RefusalOf(cause));
    }

    private void CaughtUp(JournalCaughtUp caughtUp)
    {
        var stored = caughtUp.Events.OfType<TEvent>().ToList();
        foreach (var e in stored)
        {
            Fold(e);
        }

        if (stored.Count > 0)
        {
            _journalLog.Warning("{0}: a write thought lost was stored after all: {1}; carrying it out", JournalOwner, string.Join(", ", stored));
        }

        _journalLog.Info("{0}: the journal answers again after {1:0} s; changes are accepted", JournalOwner, (DateTime.UtcNow - (JournalWatch.Health.FailingSince ?? DateTime.UtcNow)).TotalSeconds);
        JournalWatch.Answered(caughtUp.HighestSequenceNr);
        JournalReturned(stored);
    }

    /// <summary>Time to read the journal back (see <see cref="JournalWatch.Probe"/>).</summary>
    private sealed record ProbeJournal
    {
        public static readonly ProbeJournal Instance = new();
    }
}
