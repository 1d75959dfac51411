using System.Buffers.Binary;

namespace CloonixActors.Relay.Capture;

/// <summary>
/// Writes classic pcap (what tshark and Wireshark read, from a file, a FIFO or a pipe): a global header,
/// then one record per frame. Nanosecond timestamps (magic a1b23c4d), Ethernet link type.
/// Not thread-safe: one writer owns it (see <see cref="PcapSink"/>).
/// </summary>
public sealed class PcapWriter : IDisposable
{
    public const uint NanosecondMagic = 0xa1b23c4d;
    public const int LinkTypeEthernet = 1;
    public const int DefaultSnapLength = 262144;

    private readonly Stream _stream;
    private readonly int _snapLength;
    private readonly byte[] _recordHeader = new byte[16];

    public PcapWriter(Stream stream, int snapLength = DefaultSnapLength)
    {
        _stream = stream;
        _snapLength = snapLength;
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, NanosecondMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0); // thiszone
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], snapLength);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], LinkTypeEthernet);
        _stream.Write(header);
    }

    public long Records { get; private set; }

    /// <summary>Appends one frame; a frame longer than the snap length is cut, its original length kept.</summary>
    public void Write(DateTimeOffset at, ReadOnlySpan<byte> frame)
    {
        var sinceEpoch = at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var seconds = sinceEpoch / TimeSpan.TicksPerSecond;
        var nanos = (sinceEpoch % TimeSpan.TicksPerSecond) * 100;
        var included = Math.Min(frame.Length, _snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(4), (uint)nanos);
        BinaryPrimitives.WriteInt32LittleEndian(_recordHeader.AsSpan(8), included);
        BinaryPrimitives.WriteInt32LittleEndian(_recordHeader.AsSpan(12), frame.Length);
        _stream.Write(_recordHeader);
        _stream.Write(frame[..included]);
        Records++;
    }

    public void Flush() => _stream.Flush();

    public void Dispose() => _stream.Dispose();
}
