using Akka.Actor;

namespace CloonixActors.Host.Persistence;

/// <summary>
/// The journal side of a persistent actor that refuses changes while its journal is down (decision 0011):
/// its health, the last sequence number known to be stored, and the one catch-up read at a time whose answer
/// says when the journal works again. The host agent and the lan-coordinator each own one.
/// </summary>
public sealed class JournalWatch
{
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(10);
    private IActorRef _catchUp = ActorRefs.Nobody;

    public JournalHealth Health { get; private set; } = JournalHealth.Ok;

    /// <summary>The highest sequence number known to be in the journal; a catch-up reads what follows it.</summary>
    public long RecordedSeq { get; private set; }

    public void Recorded(long sequenceNr) => RecordedSeq = sequenceNr;

    /// <summary>A write failed: the journal is down from now on. Returns when to probe it first.</summary>
    public TimeSpan Failed(string error, DateTime now)
    {
        Health = Health.Failed(error, now);
        return Health.NextProbe;
    }

    /// <summary>Time to probe: starts the catch-up read, unless one runs already (two could fold one write in twice) or the journal is up.</summary>
    public void Probe(IActorContext context, string persistenceId)
    {
        if (_catchUp.IsNobody() && Health.IsDown)
        {
            _catchUp = context.ActorOf(JournalCatchUp.Props(persistenceId, RecordedSeq + 1, context.Self, CatchUpTimeout));
        }
    }

    /// <summary>
    /// The journal answered a catch-up. True when <paramref name="sender"/> is this actor's catch-up: the
    /// caller then folds the stored events in and calls <see cref="Answered"/>.
    /// </summary>
    public bool IsCatchUp(IActorRef sender)
    {
        if (!sender.Equals(_catchUp))
        {
            return false;
        }

        _catchUp = ActorRefs.Nobody;
        return true;
    }

    /// <summary>The journal works again; <paramref name="highestSequenceNr"/> is what the catch-up found stored.</summary>
    public void Answered(long highestSequenceNr)
    {
        RecordedSeq = Math.Max(RecordedSeq, highestSequenceNr);
        Health = Health.Answered();
    }

    /// <summary>
    /// A probe (the catch-up, or a read for `status` with no sender) found the journal still down. Returns
    /// when to probe next, or null while a catch-up still runs.
    /// </summary>
    public TimeSpan? StillDown(IActorRef sender, string error, DateTime now)
    {
        if (sender.Equals(_catchUp))
        {
            _catchUp = ActorRefs.Nobody;
        }

        Health = Health.ProbeFailed(error, now);
        return _catchUp.IsNobody() ? Health.NextProbe : null;
    }
}
