using CloonixActors.Relay.Impairment;

namespace CloonixActors.Relay.Tests.Impairment;

public sealed class ImpairmentSpecs
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void A_delay_holds_every_frame_for_exactly_that_long()
    {
        var q = new ImpairmentQueue<int>(new ImpairmentSettings(DelayMs: 20), new Random(1));
        q.Offer(1, 100, 0 * Ms);
        q.Offer(2, 100, 5 * Ms);
        var sent = new List<int>();

        Assert.Equal(0, q.Release(19 * Ms, sent.Add));
        Assert.Equal(1, q.Release(20 * Ms, sent.Add));
        Assert.Equal(20 * Ms, q.NextRelease! - 5 * Ms);
        Assert.Equal(1, q.Release(25 * Ms, sent.Add));
        Assert.Equal([1, 2], sent);
    }

    [Fact]
    public void Jitter_varies_the_delay_within_its_bounds_and_never_reorders()
    {
        var q = new ImpairmentQueue<int>(new ImpairmentSettings(DelayMs: 50, JitterMs: 20), new Random(7));
        var releases = new List<TimeSpan>();
        for (var i = 0; i < 2000; i++)
        {
            q.Offer(i, 100, i * Ms);
            releases.Add(q.NextRelease!.Value);
            q.Release(TimeSpan.MaxValue, _ => { });
        }

        var delays = releases.Select((at, i) => (at - (i * Ms)).TotalMilliseconds).ToList();
        Assert.All(delays, d => Assert.InRange(d, 30, 70 + 1));
        Assert.True(delays.Max() - delays.Min() > 20, "jitter did not vary the delay");
        Assert.Equal(releases.Order(), releases);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(50)]
    public void Loss_drops_close_to_the_asked_share(double percent)
    {
        var q = new ImpairmentQueue<int>(new ImpairmentSettings(LossPercent: percent), new Random(3));
        const int N = 20_000;

        var kept = Enumerable.Range(0, N).Count(i => q.Offer(i, 100, TimeSpan.Zero));

        Assert.InRange(100.0 * (N - kept) / N, percent - 1.5, percent + 1.5);
        Assert.Equal(N - kept, q.Lost);
    }

    [Fact]
    public void A_rate_cap_spaces_frames_by_their_serialization_time()
    {
        // 10 Mbit/s: a 1250-byte frame takes exactly 1 ms on the wire.
        var q = new ImpairmentQueue<int>(new ImpairmentSettings(RateMbit: 10), new Random(1));
        for (var i = 0; i < 1000; i++)
        {
            q.Offer(i, 1250, TimeSpan.Zero);
        }

        var sent = 0;
        Assert.Equal(0, q.Release(TimeSpan.Zero, _ => sent++));
        q.Release(500 * Ms, _ => sent++);
        Assert.InRange(sent, 499, 501);
        q.Release(1000 * Ms, _ => sent++);
        Assert.Equal(1000, sent);
    }
}
