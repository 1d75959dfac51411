using CloonixActors.Protocol.Wire;

namespace CloonixActors.Tests.Wire;

public sealed class LogThrottleSpecs
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(10);
    private DateTime _now = new(2026, 12, 4, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void The_first_event_is_logged_the_rest_of_the_period_only_counted()
    {
        var throttle = new LogThrottle(Period, () => _now);

        Assert.True(throttle.ShouldLog(out var first));
        Assert.Equal(0, first);
        for (var i = 0; i < 7; i++)
        {
            _now += TimeSpan.FromSeconds(1);
            Assert.False(throttle.ShouldLog(out _));
        }
    }

    [Fact]
    public void A_burst_lets_that_many_through_per_period_then_counts()
    {
        var throttle = new LogThrottle(Period, () => _now, burst: 3);

        Assert.True(throttle.ShouldLog(out _));
        Assert.True(throttle.ShouldLog(out _));
        Assert.True(throttle.ShouldLog(out _));
        Assert.False(throttle.ShouldLog(out _));
        Assert.False(throttle.ShouldLog(out _));

        _now += Period;

        Assert.True(throttle.ShouldLog(out var suppressed));
        Assert.Equal(2, suppressed);
        Assert.True(throttle.ShouldLog(out var next));
        Assert.Equal(0, next);
    }

    [Fact]
    public void The_first_event_of_the_next_period_carries_the_count_of_those_held_back()
    {
        var throttle = new LogThrottle(Period, () => _now);
        throttle.ShouldLog(out _);
        throttle.ShouldLog(out _);
        throttle.ShouldLog(out _);

        _now += Period;

        Assert.True(throttle.ShouldLog(out var suppressed));
        Assert.Equal(2, suppressed);
        Assert.Equal(" (2 more like it not logged in the last 10 s)", LogThrottle.Suffix(suppressed, Period));
        Assert.Equal(string.Empty, LogThrottle.Suffix(0, Period));
    }

    [Fact]
    public void Events_from_many_threads_are_each_logged_or_counted_once()
    {
        var throttle = new LogThrottle(Period, () => _now);
        var logged = 0;

        Parallel.For(0, 10_000, _ =>
        {
            if (throttle.ShouldLog(out _))
            {
                Interlocked.Increment(ref logged);
            }
        });
        _now += Period;
        throttle.ShouldLog(out var suppressed);

        Assert.Equal(1, logged);
        Assert.Equal(9_999, suppressed);
    }
}
