namespace CloonixActors.Host.Agent;

/// <summary>Exponential back-off for actors that retry or relaunch what they own: first, 2x first, 4x first ... capped.</summary>
public static class RetryBackoff
{
    public static TimeSpan Delay(int failures, TimeSpan first, TimeSpan max) =>
        TimeSpan.FromMilliseconds(Math.Min(max.TotalMilliseconds, first.TotalMilliseconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 16))));
}
