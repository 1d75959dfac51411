namespace CloonixActors.Protocol.Wire;

/// <summary>
/// Lets <paramref name="burst"/> log lines (one by default) through per <paramref name="period"/> and counts the ones it holds back, so a flood of
/// refused input (wrong secrets, foreign payloads, spoofed senders) costs the log one line per period.
/// Thread-safe: serializers call it from remoting threads.
/// </summary>
/// <param name="clock">The time source (tests give a fake one); the UTC clock by default.</param>
public sealed class LogThrottle(TimeSpan period, Func<DateTime>? clock = null, int burst = 1)
{
    private readonly Func<DateTime> _clock = clock ?? (() => DateTime.UtcNow);
    private readonly Lock _lock = new();
    private DateTime _windowStart = DateTime.MinValue;
    private int _inWindow;
    private int _held;

    /// <summary>
    /// True when this event may be logged now (at most <c>burst</c> in one period); <paramref name="suppressed"/>
    /// is then how many were held back since the last line. False: the event is only counted.
    /// </summary>
    public bool ShouldLog(out int suppressed)
    {
        lock (_lock)
        {
            var now = _clock();
            if (now - _windowStart >= period)
            {
                _windowStart = now;
                _inWindow = 0;
            }

            if (_inWindow >= burst)
            {
                _held++;
                suppressed = 0;
                return false;
            }

            _inWindow++;
            suppressed = _held;
            _held = 0;
            return true;
        }
    }

    /// <summary>" (N more like it in the last period)" after a line that stands for held-back ones, else "".</summary>
    public static string Suffix(int suppressed, TimeSpan period) =>
        suppressed == 0 ? string.Empty : $" ({suppressed} more like it not logged in the last {period.TotalSeconds:0} s)";
}
