using Akka.Actor;
using Akka.Persistence;

namespace CloonixActors.Host.Persistence;

/// <summary>What the journal holds after a sequence number: it answered again.</summary>
public sealed record JournalCaughtUp(IReadOnlyList<object> Events, long HighestSequenceNr);

/// <summary>The journal still does not answer.</summary>
public sealed record JournalStillDown(string Error);

/// <summary>
/// Probes a journal that failed a write: first a write of its own (<see cref="JournalWriteProbe"/>: a full disk
/// still reads), then a read of a persistent actor's events after the last one it knows was recorded, through
/// the journal's own replay protocol (a write that seemed lost may have been stored: the actor folds in what
/// it finds before it writes again). Reports <see cref="JournalCaughtUp"/> or <see cref="JournalStillDown"/>.
/// </summary>
public sealed class JournalCatchUp : ReceiveActor, IWithTimers
{
    private readonly List<object> _events = [];
    private readonly string _persistenceId;
    private readonly long _from;
    private readonly TimeSpan _timeout;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string persistenceId, long fromSequenceNr, IActorRef reportTo, TimeSpan timeout) =>
        Akka.Actor.Props.Create(() => new JournalCatchUp(persistenceId, fromSequenceNr, reportTo, timeout));

    public JournalCatchUp(string persistenceId, long fromSequenceNr, IActorRef reportTo, TimeSpan timeout)
    {
        _persistenceId = persistenceId;
        _from = fromSequenceNr;
        _timeout = timeout;
        Receive<JournalWriteProbe.Written>(_ => Akka.Persistence.Persistence.Instance.Apply(Context.System).JournalFor(null)
            .Tell(new ReplayMessages(_from, long.MaxValue, long.MaxValue, _persistenceId, Self)));
        Receive<JournalWriteProbe.Refused>(r => Report(reportTo, new JournalStillDown(r.Error)));
        Receive<ReplayedMessage>(m => _events.Add(m.Persistent.Payload));
        Receive<RecoverySuccess>(s => Report(reportTo, new JournalCaughtUp(_events, s.HighestSequenceNr)));
        Receive<ReplayMessagesFailure>(f => Report(reportTo, new JournalStillDown(JournalWrites.Describe(f.Cause))));
        Receive<ReceiveTimeout>(_ => Report(reportTo, new JournalStillDown($"no answer from the journal within {timeout.TotalSeconds:0} s")));
        Receive<Terminated>(_ => { });
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer("timeout", ReceiveTimeout.Instance, _timeout);
        Context.ActorOf(JournalWriteProbe.Props(_persistenceId), "write");
    }

    private void Report(IActorRef reportTo, object result)
    {
        reportTo.Tell(result);
        Context.Stop(Self);
    }
}

/// <summary>
/// One write to the journal in a stream of its own, <c>journal-probe-</c> and the owner's persistence id;
/// tells its parent <see cref="Written"/> or <see cref="Refused"/>, then stops. The stream's older probes are deleted.
/// </summary>
public sealed class JournalWriteProbe : ReceivePersistentActor
{
    private readonly string _owner;
    private bool _answered;

    public static Props Props(string owner) => Akka.Actor.Props.Create(() => new JournalWriteProbe(owner));

    public JournalWriteProbe(string owner)
    {
        _owner = owner;
        PersistenceId = $"journal-probe-{owner}";
        Recover<RecoveryCompleted>(_ => Self.Tell(Write.Instance));
        Recover<Protocol.JournalProbed>(_ => { });
        Command<Write>(_ => Persist(new Protocol.JournalProbed(_owner, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), _ =>
        {
            Answer(Written.Instance);
            DeleteMessages(LastSequenceNr - 1);
        }));
        Command<DeleteMessagesSuccess>(_ => Context.Stop(Self));
        Command<DeleteMessagesFailure>(_ => Context.Stop(Self));
    }

    public override string PersistenceId { get; }

    /// <summary>The journal alone: the probe has no snapshots, and need not wait on the snapshot store.</summary>
    public override Recovery Recovery => new(SnapshotSelectionCriteria.None);

    public sealed record Written
    {
        public static readonly Written Instance = new();
    }

    public sealed record Refused(string Error);

    private sealed record Write
    {
        public static readonly Write Instance = new();
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        Answer(new Refused(JournalWrites.Describe(reason)));
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        Answer(new Refused(cause.Message));
        Context.Stop(Self);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        Answer(new Refused(JournalWrites.Describe(cause)));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    private void Answer(object answer)
    {
        if (!_answered)
        {
            _answered = true;
            Context.Parent.Tell(answer);
        }
    }
}

/// <summary>A read of the journal for `status`: does it answer now, even when no write has failed yet?</summary>
public static class JournalCheck
{
    /// <summary>Null when the journal answered a read of <paramref name="persistenceId"/>'s highest sequence number, else why not.</summary>
    public static async Task<string?> ProblemAsync(ActorSystem system, string persistenceId, TimeSpan timeout)
    {
        try
        {
            // An empty range: the journal only reads the highest sequence number, which needs the database.
            var answer = await Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(null)
                .Ask<object>(replyTo => new ReplayMessages(1, 0, 0, persistenceId, replyTo), timeout, CancellationToken.None).ConfigureAwait(false);
            return answer is ReplayMessagesFailure f ? JournalWrites.Describe(f.Cause) : null;
        }
        catch (AskTimeoutException)
        {
            return $"no answer from the journal within {timeout.TotalSeconds:0} s";
        }
    }
}
