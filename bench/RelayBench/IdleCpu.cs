using System.Diagnostics;

internal static class IdleCpu
{
    /// <summary>This process's CPU time over a wall-clock window, in percent of one core.</summary>
    public static async Task<double> MeasureAsync(TimeSpan window)
    {
        using var me = Process.GetCurrentProcess();
        var cpu0 = me.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await Task.Delay(window).ConfigureAwait(false);
        me.Refresh();
        return (me.TotalProcessorTime - cpu0).TotalSeconds / wall.Elapsed.TotalSeconds * 100;
    }
}
