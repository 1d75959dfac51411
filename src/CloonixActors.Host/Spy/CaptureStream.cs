namespace CloonixActors.Host.Spy;

/// <summary>
/// The stream a capture's <see cref="Relay.Capture.PcapSink"/> writes into: bytes gather until the sink
/// flushes, then leave as one chunk through <paramref name="send"/>. At most <paramref name="window"/>
/// chunks travel unacknowledged; a flush waits for credit (on the sink's writer task, never on the relay
/// thread or an actor), so a slow reader makes the sink's bounded queue overflow and the capture drop
/// frames, while the lan is never slowed. No credit for <paramref name="stallTimeout"/> counts as a reader
/// that went away: the write fails and the sink stops capturing.
/// </summary>
public sealed class CaptureStream(Action<long, byte[]> send, int window, TimeSpan stallTimeout) : Stream
{
    private readonly SemaphoreSlim _credit = new(window, window);
    private readonly MemoryStream _pending = new();
    private long _sequence;
    private long _acked;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Chunks sent so far.</summary>
    public long Sent => Interlocked.Read(ref _sequence);

    /// <summary>A chunk leaves once it holds this much, so each stays far below the remoting frame limit.</summary>
    public const int ChunkBytes = 256 * 1024;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _pending.Write(buffer);
        if (_pending.Length >= ChunkBytes)
        {
            Flush();
        }
    }

    public override void Flush()
    {
        if (_pending.Length == 0)
        {
            return;
        }

        if (!_credit.Wait(stallTimeout))
        {
            throw new IOException("the capture's reader stopped acknowledging");
        }

        var chunk = _pending.ToArray();
        _pending.SetLength(0);
        send(Interlocked.Increment(ref _sequence), chunk);
    }

    /// <summary>The reader has everything up to <paramref name="sequence"/>: that many chunks' credit comes back.</summary>
    public void Ack(long sequence)
    {
        while (true)
        {
            var acked = Interlocked.Read(ref _acked);
            var upTo = Math.Min(sequence, Sent);
            if (upTo <= acked)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _acked, upTo, acked) == acked)
            {
                _credit.Release((int)(upTo - acked));
                return;
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pending.Dispose();
        }

        base.Dispose(disposing);
    }
}
