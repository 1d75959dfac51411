namespace CloonixActors.Relay.Capture;

public readonly record struct TrafficSnapshot(long PacketsIn, long BytesIn, long PacketsOut, long BytesOut, long Drops)
{
    public long Packets => PacketsIn + PacketsOut;

    public static TrafficSnapshot operator +(TrafficSnapshot a, TrafficSnapshot b) =>
        new(a.PacketsIn + b.PacketsIn, a.BytesIn + b.BytesIn, a.PacketsOut + b.PacketsOut, a.BytesOut + b.BytesOut, a.Drops + b.Drops);

    public static TrafficSnapshot operator -(TrafficSnapshot a, TrafficSnapshot b) =>
        new(a.PacketsIn - b.PacketsIn, a.BytesIn - b.BytesIn, a.PacketsOut - b.PacketsOut, a.BytesOut - b.BytesOut, a.Drops - b.Drops);
}

/// <summary>
/// Packets and bytes per direction of one endpoint ("in" = towards the node, "out" = from it), the
/// figures behind the GUI's blinking. Written by the relay thread, read by the SpyActor once a second.
/// </summary>
public sealed class TrafficCounters
{
    private long _packetsIn;
    private long _bytesIn;
    private long _packetsOut;
    private long _bytesOut;
    private long _drops;

    public void CountIn(int bytes)
    {
        Interlocked.Increment(ref _packetsIn);
        Interlocked.Add(ref _bytesIn, bytes);
    }

    public void CountOut(int bytes)
    {
        Interlocked.Increment(ref _packetsOut);
        Interlocked.Add(ref _bytesOut, bytes);
    }

    public void CountDrop() => Interlocked.Increment(ref _drops);

    public TrafficSnapshot Snapshot() => new(
        Interlocked.Read(ref _packetsIn),
        Interlocked.Read(ref _bytesIn),
        Interlocked.Read(ref _packetsOut),
        Interlocked.Read(ref _bytesOut),
        Interlocked.Read(ref _drops));
}
