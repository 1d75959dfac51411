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
/// figures behind the GUI's blinking. Written by the relay thread only, read by the SpyActor once a
/// second: plain increments published with volatile writes (no locked instructions per frame); a 64-bit
/// store is atomic on the 64-bit platforms this runs on.
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
        Volatile.Write(ref _packetsIn, _packetsIn + 1);
        Volatile.Write(ref _bytesIn, _bytesIn + bytes);
    }

    public void CountOut(int bytes)
    {
        Volatile.Write(ref _packetsOut, _packetsOut + 1);
        Volatile.Write(ref _bytesOut, _bytesOut + bytes);
    }

    public void CountDrop() => Volatile.Write(ref _drops, _drops + 1);

    public TrafficSnapshot Snapshot() => new(
        Volatile.Read(ref _packetsIn),
        Volatile.Read(ref _bytesIn),
        Volatile.Read(ref _packetsOut),
        Volatile.Read(ref _bytesOut),
        Volatile.Read(ref _drops));
}
