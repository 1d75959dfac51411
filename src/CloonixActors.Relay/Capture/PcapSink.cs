using System.Buffers;
using System.Threading.Channels;
using CloonixActors.Relay.Virtio;

namespace CloonixActors.Relay.Capture;

/// <summary>
/// A capture that never stalls forwarding: the relay thread copies each frame into a bounded queue and
/// goes on; a writer task drains it into a <see cref="PcapWriter"/>. When the reader (Wireshark, a slow
/// disk) falls behind and the queue is full, frames are dropped from the capture, not from the lan, and
/// counted in <see cref="Dropped"/>.
/// </summary>
public sealed class PcapSink : IAsyncDisposable
{
    // Frames in rented buffers (the relay thread allocates nothing per frame); the writer returns them.
    private readonly Channel<(DateTimeOffset At, byte[] Frame, int Length)> _queue;
    private readonly PcapWriter _writer;
    private readonly Task _drain;
    private long _dropped;

    public PcapSink(Stream output, int capacity = 4096)
    {
        _writer = new PcapWriter(output);
        _queue = Channel.CreateBounded<(DateTimeOffset, byte[], int)>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _drain = Task.Run(DrainAsync);
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Records written so far (read after <see cref="DisposeAsync"/> for a final count).</summary>
    public long Written => _writer.Records;

    /// <summary>Called on the relay thread: one copy, never a wait.</summary>
    public void Offer(DateTimeOffset at, ReadOnlySpan<byte> frame)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(frame.Length);
        frame.CopyTo(buffer);
        Enqueue(at, buffer, frame.Length);
    }

    /// <summary>Called on the relay thread with the frame still in guest memory: copied once, straight from there.</summary>
    public void Offer(DateTimeOffset at, FramePayload frame)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(frame.Length);
        var n = frame.CopyTo(buffer);
        Enqueue(at, buffer, n);
    }

    private void Enqueue(DateTimeOffset at, byte[] buffer, int length)
    {
        if (!_queue.Writer.TryWrite((at, buffer, length)))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task DrainAsync()
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (_queue.Reader.TryRead(out var item))
                {
                    _writer.Write(item.At, item.Frame.AsSpan(0, item.Length));
                    ArrayPool<byte>.Shared.Return(item.Frame);
                }

                _writer.Flush();
            }
        }
        catch (IOException)
        {
            // The reader went away (Wireshark closed its FIFO, `cloonix spy ... | head`): stop capturing.
            while (_queue.Reader.TryRead(out var lost))
            {
                ArrayPool<byte>.Shared.Return(lost.Frame);
                Interlocked.Increment(ref _dropped);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _drain.ConfigureAwait(false);
        try
        {
            _writer.Dispose();
        }
        catch (IOException)
        {
        }
    }
}
