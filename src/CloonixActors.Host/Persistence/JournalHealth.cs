using System.Globalization;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Persistence;

/// <summary>
/// What a persistent actor knows of its journal: ok, or failing since a time with the last error. While
/// failing, changes are refused with <see cref="Refusal"/> and the journal is probed with back-off.
/// </summary>
public sealed record JournalHealth(DateTime? FailingSince, string? LastError, DateTime? LastFailure, int Probes)
{
    /// <summary>First probe after a failure, and the longest wait between two: PostgreSQL's return is seen within this.</summary>
    public static readonly TimeSpan FirstProbe = TimeSpan.FromMilliseconds(500);

    public static readonly TimeSpan MaxProbeInterval = TimeSpan.FromSeconds(2);

    public static readonly JournalHealth Ok = new(null, null, null, 0);

    public bool IsDown => FailingSince is not null;

    public JournalHealth Failed(string error, DateTime now) => new(FailingSince ?? now, error, now, Probes);

    /// <summary>A probe that still failed; counts towards the back-off.</summary>
    public JournalHealth ProbeFailed(string error, DateTime now) => Failed(error, now) with { Probes = Probes + 1 };

    public JournalHealth Answered() => this with { FailingSince = null, Probes = 0 };

    public TimeSpan NextProbe => RetryBackoff.Delay(Probes + 1, FirstProbe, MaxProbeInterval);

    /// <summary>The client's answer to a change while the journal is down.</summary>
    public CommandFailed Refusal() => new(ErrorCode.Unavailable, $"journal unavailable: {LastError}; nothing changed");

    /// <summary>The client's answer to the change whose write was refused.</summary>
    public static CommandFailed RefusalOf(Exception cause) => cause is JournalUnavailableException { MayHaveBeenWritten: true }
        ? new(ErrorCode.Unavailable, $"journal unavailable: {cause.Message}; the change may or may not be recorded: see `cloonix ls` once `cloonix status` shows the journal ok")
        : new(ErrorCode.Unavailable, $"journal unavailable: {cause.Message}; nothing changed");

    /// <summary>One line for `status`.</summary>
    public string Describe(DateTime now)
    {
        if (FailingSince is { } since)
        {
            return $"failing since {Stamp(since)} ({(now - since).TotalSeconds:0} s): {LastError}; changes are refused until it answers";
        }

        return LastFailure is { } last ? $"ok (last failure {Stamp(last)}: {LastError})" : "ok";
    }

    private static string Stamp(DateTime t) => t.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
