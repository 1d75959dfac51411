using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using CloonixActors.Host.Persistence;

namespace CloonixActors.Tests.Fakes;

/// <summary>What the <see cref="FlakyJournal"/> does with the writes and reads it gets from now on.</summary>
public sealed record SetJournalMode(FlakyJournal.Mode Mode);

/// <summary>
/// The in-memory journal wrapped as the daemon wraps the SQL one (<see cref="JournalWrites.Guard"/>), with a
/// switch: up, down (every write and read fails, as with the database server stopped), or "stores but
/// does not answer" (the write is kept but reported as timed out, as when the answer to a commit is lost).
/// </summary>
public sealed class FlakyJournal : MemoryJournal
{
    private Mode _mode = Mode.Up;

    public enum Mode
    {
        Up,
        Down,
        StoresWithoutAnswer,

        /// <summary>Reads work, writes fail: a full disk.</summary>
        Full,
    }

    /// <summary>This journal in an ActorSystem's configuration, as its default journal.</summary>
    public const string Config = """
        akka.persistence.journal.plugin = "akka.persistence.journal.flaky"
        akka.persistence.journal.flaky.class = "CloonixActors.Tests.Fakes.FlakyJournal, CloonixActors.Tests"
        akka.persistence.journal.flaky.plugin-dispatcher = "akka.actor.default-dispatcher"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """;

    /// <summary>Sets the mode of <paramref name="system"/>'s journal and waits until it has it.</summary>
    public static async Task SetAsync(ActorSystem system, Mode mode) =>
        await Persistence.Instance.Apply(system).JournalFor(null).Ask<SetJournalMode>(new SetJournalMode(mode), TimeSpan.FromSeconds(3));

    protected override bool ReceivePluginInternal(object message)
    {
        if (message is SetJournalMode set)
        {
            _mode = set.Mode;
            Sender.Tell(set);
            return true;
        }

        return base.ReceivePluginInternal(message);
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var mode = _mode;
        return JournalWrites.Guard([.. messages], m => Write(m, mode, cancellationToken), TimeSpan.FromSeconds(2));
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max, Action<IPersistentRepresentation> recoveryCallback) =>
        _mode == Mode.Down
            ? Task.FromException(new InvalidOperationException("Failed to connect to 127.0.0.1:5432 (Connection refused)"))
            : base.ReplayMessagesAsync(context, persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback);

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        _mode == Mode.Down
            ? Task.FromException<long>(new InvalidOperationException("Failed to connect to 127.0.0.1:5432 (Connection refused)"))
            : base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken);

    private async Task<IImmutableList<Exception>> Write(IEnumerable<AtomicWrite> messages, Mode mode, CancellationToken cancellationToken)
    {
        switch (mode)
        {
            case Mode.Down:
                throw new InvalidOperationException("Failed to connect to 127.0.0.1:5432 (Connection refused)");
            case Mode.Full:
                throw new InvalidOperationException("SQLite Error 13: 'database or disk is full'");
            case Mode.StoresWithoutAnswer:
                await base.WriteMessagesAsync(messages, cancellationToken);
                await Task.Delay(Timeout.Infinite, cancellationToken); // the answer never comes: the guard's timeout rejects
                throw new InvalidOperationException("unreachable");
            default:
                return await base.WriteMessagesAsync(messages, cancellationToken);
        }
    }
}
