using Akka.Actor;
using Akka.Persistence;

namespace CloonixActors.Host.Persistence;

/// <summary>What the journal holds after a sequence number: it answered again.</summary>
public sealed record JournalCaughtUp(IReadOnlyList<object> Events, long HighestSequenceNr);

/// <summary>The journal still does not answer.</summary>
public sealed record JournalStillDown(string Error);

/// <summary>
/// Probes a journal that failed a write: reads a persistent actor's events after the last one it knows was
/// recorded, through the journal's own replay protocol, and reports them to the actor (a write that seemed
/// lost may have been stored: the actor folds in what it finds before it writes again). One probe per actor.
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
        Receive<ReplayedMessage>(m => _events.Add(m.Persistent.Payload));
        Receive<RecoverySuccess>(s => Report(reportTo, new JournalCaughtUp(_events, s.HighestSequenceNr)));
        Receive<ReplayMessagesFailure>(f => Report(reportTo, new JournalStillDown(JournalWrites.Describe(f.Cause))));
        Receive<ReceiveTimeout>(_ => Report(reportTo, new JournalStillDown($"no answer from the journal within {timeout.TotalSeconds:0} s")));
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer("timeout", ReceiveTimeout.Instance, _timeout);
        Akka.Persistence.Persistence.Instance.Apply(Context.System).JournalFor(null)
            .Tell(new ReplayMessages(_from, long.MaxValue, long.MaxValue, _persistenceId, Self));
    }

    private void Report(IActorRef reportTo, object result)
    {
        reportTo.Tell(result);
        Context.Stop(Self);
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
