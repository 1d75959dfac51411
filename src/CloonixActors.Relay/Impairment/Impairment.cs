namespace CloonixActors.Relay.Impairment;

/// <summary>
/// What to do to frames in one direction: added delay and jitter, random loss, a rate cap. Validated where
/// users give it (the domain's ImpairmentSpec); the relay takes it as it comes.
/// </summary>
public sealed record ImpairmentSettings(double DelayMs = 0, double JitterMs = 0, double LossPercent = 0, double RateMbit = 0)
{
    public static readonly ImpairmentSettings None = new();

    public bool IsNone => DelayMs == 0 && JitterMs == 0 && LossPercent == 0 && RateMbit == 0;
}

/// <summary>
/// The frames of one direction in flight through an impairment: each offered frame is dropped (loss) or
/// given a release time (delay, jitter, and the time the rate cap needs to send the frames before it).
/// Frames leave in the order they came: jitter never reorders, it only varies the gaps. Time is passed
/// in, so the scheduling is exact and testable; the relay thread calls <see cref="Offer"/> and
/// <see cref="Release"/> with its monotonic clock.
/// </summary>
public sealed class ImpairmentQueue<T>(ImpairmentSettings settings, Random random)
{
    private readonly Queue<(TimeSpan At, T Frame)> _inFlight = new();
    private TimeSpan _lastRelease = TimeSpan.MinValue;
    private TimeSpan _linkFreeAt = TimeSpan.Zero;

    public ImpairmentSettings Settings { get; } = settings;

    public int Count => _inFlight.Count;

    public long Lost { get; private set; }

    /// <summary>The release time of the oldest frame, for the relay's wait; null when empty.</summary>
    public TimeSpan? NextRelease => _inFlight.Count > 0 ? _inFlight.Peek().At : null;

    /// <summary>False when the frame is lost.</summary>
    public bool Offer(T frame, int bytes, TimeSpan now)
    {
        if (Settings.LossPercent > 0 && random.NextDouble() * 100 < Settings.LossPercent)
        {
            Lost++;
            return false;
        }

        var jitter = Settings.JitterMs > 0 ? ((random.NextDouble() * 2) - 1) * Settings.JitterMs : 0;
        var at = now + TimeSpan.FromMilliseconds(Settings.DelayMs + jitter);
        if (Settings.RateMbit > 0)
        {
            // The link sends one frame at a time: this one starts when the link is free.
            var start = _linkFreeAt > now ? _linkFreeAt : now;
            _linkFreeAt = start + TimeSpan.FromSeconds(bytes * 8 / (Settings.RateMbit * 1e6));
            at = Max(at, _linkFreeAt + TimeSpan.FromMilliseconds(Settings.DelayMs + jitter));
        }

        at = Max(at, _lastRelease);
        _lastRelease = at;
        _inFlight.Enqueue((at, frame));
        return true;
    }

    /// <summary>The oldest frame, when its time has come; it stays queued until <see cref="Dequeue"/> (its receiver may be full).</summary>
    public bool TryPeekDue(TimeSpan now, out T frame)
    {
        if (_inFlight.Count > 0 && _inFlight.Peek().At <= now)
        {
            frame = _inFlight.Peek().Frame;
            return true;
        }

        frame = default!;
        return false;
    }

    /// <summary>Removes the oldest frame (the one <see cref="TryPeekDue"/> gave, or any when clearing).</summary>
    public T Dequeue() => _inFlight.Dequeue().Frame;

    /// <summary>Hands every frame whose time has come to <paramref name="send"/>, oldest first; returns how many.</summary>
    public int Release(TimeSpan now, Action<T> send)
    {
        var n = 0;
        while (TryPeekDue(now, out var frame))
        {
            send(frame);
            Dequeue();
            n++;
        }

        return n;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
