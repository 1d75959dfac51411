using CloonixActors.Relay.Memory;

namespace CloonixActors.Relay.Virtio;

/// <summary>
/// A validated descriptor chain popped from a <see cref="SplitVirtqueue"/>: its head (to give back with
/// <see cref="SplitVirtqueue.Push"/>) and its buffers, translated and bounds-checked, device-readable
/// ones first. The object is reusable and owned by the caller, so a relay can hold several chains of one
/// queue at once (mergeable RX) without allocating per frame.
/// </summary>
/// <remarks>
/// The segments are a snapshot taken once: the driver may rewrite its descriptors afterwards but cannot
/// move our pointers out of guest memory. The bytes themselves stay guest-writable.
/// </remarks>
public sealed class DescriptorChain
{
    /// <summary>
    /// More pieces than any network driver builds (Linux uses about 20); the cap bounds the memory a
    /// hostile chain can make us allocate. A longer chain fails with <see cref="PopResult.TooManySegments"/>.
    /// </summary>
    public const int MaxSegments = 4096;

    private BufferSegment[] _segments;
    private int _count;
    private int _readableCount;

    public DescriptorChain()
    {
        _segments = new BufferSegment[16];
    }

    /// <summary>The head descriptor index: the id to return in the used ring.</summary>
    public ushort Head { get; private set; }

    /// <summary>Descriptors in the chain (an indirect table's entries count, the descriptor pointing to it does not).</summary>
    public int DescriptorCount { get; private set; }

    /// <summary>Total bytes of the device-readable (driver→device) buffers.</summary>
    public int ReadableLength { get; private set; }

    /// <summary>Total bytes of the device-writable (device→driver) buffers.</summary>
    public int WritableLength { get; private set; }

    public ReadOnlySpan<BufferSegment> Segments => _segments.AsSpan(0, _count);

    public ReadOnlySpan<BufferSegment> ReadableSegments => _segments.AsSpan(0, _readableCount);

    public ReadOnlySpan<BufferSegment> WritableSegments => _segments.AsSpan(_readableCount, _count - _readableCount);

    /// <summary>Copies readable bytes from <paramref name="offset"/> on; returns how many (short when the chain is).</summary>
    public int CopyFromReadable(int offset, Span<byte> destination)
    {
        var copied = 0;
        foreach (var piece in EnumerateReadable(offset, destination.Length))
        {
            piece.CopyTo(destination[copied..]);
            copied += piece.Length;
        }
        return copied;
    }

    /// <summary>Copies bytes into the writable buffers from <paramref name="offset"/> on; returns how many fit.</summary>
    public int CopyToWritable(int offset, ReadOnlySpan<byte> source)
    {
        var copied = 0;
        foreach (var piece in EnumerateWritable(offset, source.Length))
        {
            source.Slice(copied, piece.Length).CopyTo(piece);
            copied += piece.Length;
        }
        return copied;
    }

    /// <summary>Copies bytes back out of the writable buffers (what the device wrote, or the driver left there).</summary>
    public int CopyFromWritable(int offset, Span<byte> destination)
    {
        var copied = 0;
        foreach (var piece in EnumerateWritable(offset, destination.Length))
        {
            piece.CopyTo(destination[copied..]);
            copied += piece.Length;
        }
        return copied;
    }

    /// <summary>The readable bytes [offset, offset + length) as spans, clipped to the chain: no copy.</summary>
    public GuestSpanEnumerator EnumerateReadable(int offset, int length) => new(ReadableSegments, offset, length);

    /// <summary>The writable bytes [offset, offset + length) as spans, clipped to the chain: no copy.</summary>
    public GuestSpanEnumerator EnumerateWritable(int offset, int length) => new(WritableSegments, offset, length);

    /// <summary>
    /// Copies <paramref name="length"/> readable bytes of <paramref name="source"/> into the writable buffers of
    /// <paramref name="destination"/>, span to span; returns how many were copied (less when either side ends).
    /// </summary>
    public static int Copy(DescriptorChain source, int sourceOffset, DescriptorChain destination, int destinationOffset, int length)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var into = destination.EnumerateWritable(destinationOffset, length);
        Span<byte> room = default;
        var copied = 0;
        foreach (var piece in source.EnumerateReadable(sourceOffset, length))
        {
            var rest = piece;
            while (!rest.IsEmpty)
            {
                if (room.IsEmpty)
                {
                    if (!into.MoveNext())
                    {
                        return copied;
                    }
                    room = into.Current;
                }
                var n = Math.Min(rest.Length, room.Length);
                // Span.CopyTo has memmove semantics: a hostile ring may make source and destination overlap.
                rest[..n].CopyTo(room);
                rest = rest[n..];
                room = room[n..];
                copied += n;
            }
        }
        return copied;
    }

    internal void Reset(ushort head)
    {
        Head = head;
        _count = 0;
        _readableCount = 0;
        DescriptorCount = 0;
        ReadableLength = 0;
        WritableLength = 0;
    }

    /// <summary>Appends one descriptor's buffer; the caller has checked order, length and the total.</summary>
    internal PopResult Append(GuestMemory memory, ulong gpa, int length, bool writable)
    {
        // A buffer splits into at most one piece per region; grow before translating rather than retrying.
        // With _count below MaxSegments, the array never exceeds MaxSegments + MaxRegions entries.
        if (_count >= MaxSegments)
        {
            return PopResult.TooManySegments;
        }
        var worst = memory.Regions.Length;
        if (_segments.Length - _count < worst)
        {
            Array.Resize(ref _segments, Math.Min(Math.Max(_segments.Length * 2, _count + worst), MaxSegments + worst));
        }
        if (!memory.TryGetSegments(gpa, (uint)length, _segments.AsSpan(_count), out var pieces))
        {
            return PopResult.BufferUnmapped;
        }
        if (_count + pieces > MaxSegments)
        {
            return PopResult.TooManySegments;
        }
        _count += pieces;
        DescriptorCount++;
        if (writable)
        {
            WritableLength += length;
        }
        else
        {
            _readableCount = _count;
            ReadableLength += length;
        }
        return PopResult.Ok;
    }
}

/// <summary>
/// Walks a list of segments as spans over a byte range of their concatenation. A ref struct so the spans
/// into guest memory cannot be stored past the call that received them.
/// </summary>
public ref struct GuestSpanEnumerator
{
    private readonly ReadOnlySpan<BufferSegment> _segments;
    private int _index;
    private int _skip;
    private int _remaining;

    internal GuestSpanEnumerator(ReadOnlySpan<BufferSegment> segments, int offset, int length)
    {
        _segments = segments;
        _index = -1;
        _skip = Math.Max(offset, 0);
        _remaining = Math.Max(length, 0);
    }

    public Span<byte> Current { get; private set; }

    public readonly GuestSpanEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_remaining > 0 && ++_index < _segments.Length)
        {
            var segment = _segments[_index];
            if (_skip >= segment.Length)
            {
                _skip -= segment.Length;
                continue;
            }
            var n = Math.Min(segment.Length - _skip, _remaining);
            Current = segment.AsSpan().Slice(_skip, n);
            _skip = 0;
            _remaining -= n;
            return true;
        }
        Current = default;
        return false;
    }
}
