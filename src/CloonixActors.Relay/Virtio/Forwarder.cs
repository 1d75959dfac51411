using System.Diagnostics;
using System.Runtime.CompilerServices;
using CloonixActors.Relay.Impairment;
using CloonixActors.Relay.Tap;

namespace CloonixActors.Relay.Virtio;

/// <summary>Why a frame taken from the source was not delivered.</summary>
public enum DropReason
{
    None = 0,
    /// <summary>The TX chain failed validation (the queue counted the exact error and returned it).</summary>
    MalformedSourceChain,
    /// <summary>Shorter than the virtio-net header plus an Ethernet header.</summary>
    TruncatedFrame,
    /// <summary>Longer than the forwarder's maximum, or than the destination's buffers can ever hold.</summary>
    FrameTooLarge,
    /// <summary>A GSO frame for a receiver without the matching GUEST_TSO4/TSO6/UFO/USO/ECN (and GUEST_CSUM) feature.</summary>
    GsoNotSupported,
    /// <summary>NEEDS_CSUM with csum_start + csum_offset + 2 beyond the frame.</summary>
    InvalidChecksumOffsets,
    /// <summary>Lost on purpose: the impairment's loss rate.</summary>
    ImpairmentLoss,
    /// <summary>The impairment's queue was full (a rate cap below what the sender offers): dropped at the tail.</summary>
    ImpairmentQueueFull,
    /// <summary>Held when <see cref="Forwarder.ReturnHeld"/> ran (the ring stopped or the memory table changed).</summary>
    Discarded,
}

/// <summary>
/// A frame copied out of its source (a ring, or read from a tap) while it waits for its destination or an
/// impairment's release: <see cref="Data"/> holds a virtio-net header's room, then the frame.
/// </summary>
public sealed class StagedFrame(int capacity)
{
    internal const int HeaderRoom = VirtioNetHeader.Size;

    internal byte[] Data { get; } = new byte[HeaderRoom + capacity];

    /// <summary>The frame's length, without the header.</summary>
    internal int Length { get; set; }

    internal Span<byte> Payload => Data.AsSpan(HeaderRoom, Length);

    internal VirtioNetHeader Header { get; set; }

    internal bool ComputeChecksum { get; set; }
}

/// <summary>
/// Sees every frame the forwarder takes from the source (except chains that failed validation), forwarded
/// or dropped, for capture and counters. Called on the data thread while the frame's buffers are still
/// held: read the payload during the call, keep nothing.
/// </summary>
public interface IFrameObserver
{
    /// <param name="header">The header as the source sent it.</param>
    /// <param name="payload">The frame without its virtio-net header, in the source's guest memory.</param>
    /// <param name="outcome"><see cref="DropReason.None"/> when delivered.</param>
    void OnFrame(in VirtioNetHeader header, FramePayload payload, DropReason outcome);
}

/// <summary>A frame's bytes (after the virtio-net header) in place in guest memory: enumerate the pieces or copy them.</summary>
public readonly ref struct FramePayload
{
    private readonly DescriptorChain? _chain;
    private readonly int _offset;
    private readonly ReadOnlySpan<byte> _bytes;

    internal FramePayload(DescriptorChain chain, int offset, int length)
    {
        _chain = chain;
        _offset = offset;
        Length = length;
    }

    /// <summary>A frame already in one piece (read from a tap).</summary>
    internal FramePayload(ReadOnlySpan<byte> bytes)
    {
        _bytes = bytes;
        Length = bytes.Length;
    }

    public int Length { get; }

    /// <summary>Copies the first min(Length, destination.Length) bytes; returns how many.</summary>
    public int CopyTo(Span<byte> destination)
    {
        var n = Math.Min(Length, destination.Length);
        if (_chain is null)
        {
            _bytes[..n].CopyTo(destination);
            return n;
        }

        return _chain.CopyFromReadable(_offset, destination[..n]);
    }

    public Enumerator GetEnumerator() => _chain is null ? new(_bytes) : new(_chain.EnumerateReadable(_offset, Length));

    /// <summary>The payload's pieces, read-only, in order.</summary>
    public ref struct Enumerator
    {
        private GuestSpanEnumerator _inner;
        private readonly bool _guest;
        private readonly ReadOnlySpan<byte> _single;
        private bool _done;

        internal Enumerator(GuestSpanEnumerator inner)
        {
            _inner = inner;
            _guest = true;
        }

        internal Enumerator(ReadOnlySpan<byte> single) => _single = single;

        public readonly ReadOnlySpan<byte> Current => _guest ? _inner.Current : _single;

        public bool MoveNext()
        {
            if (_guest)
            {
                return _inner.MoveNext();
            }

            var first = !_done;
            _done = true;
            return first && !_single.IsEmpty;
        }
    }
}

/// <summary>What one <see cref="Forwarder.Forward"/> call did.</summary>
public struct ForwardResult
{
    private DropCounts _drops;

    /// <summary>Frames delivered.</summary>
    public int Frames { get; internal set; }

    /// <summary>Frame bytes delivered, without virtio-net headers.</summary>
    public long Bytes { get; internal set; }

    /// <summary>Destination chains refused (failed validation, readable buffers, or no room for the header) and returned empty.</summary>
    public int BadDestinationChains { get; internal set; }

    /// <summary>NEEDS_CSUM frames completed in software for a receiver without GUEST_CSUM.</summary>
    public int ChecksumsComputed { get; internal set; }

    /// <summary>
    /// A frame is waiting for destination buffers (back-pressure): it stays held and goes first next call.
    /// Enable notifications on the destination queue and wait for its kick.
    /// </summary>
    public bool DestinationFull { get; internal set; }

    /// <summary>Used entries were published on the source queue and its driver wants an interrupt.</summary>
    public bool NotifySource { get; internal set; }

    /// <summary>Used entries were published on the destination queue and its driver wants an interrupt.</summary>
    public bool NotifyDestination { get; internal set; }

    public readonly int Dropped(DropReason reason) => _drops[(int)reason];

    public readonly int TotalDropped
    {
        get
        {
            var total = 0;
            for (var i = 1; i < DropCounts.Length; i++)
            {
                total += _drops[i];
            }
            return total;
        }
    }

    internal void CountDrop(DropReason reason) => _drops[(int)reason]++;

    [InlineArray(Length)]
    private struct DropCounts
    {
        public const int Length = (int)DropReason.Discarded + 1;
        private int _element;
    }
}

/// <summary>Running totals of a forwarder, for counters. Written by the data thread only.</summary>
public sealed class ForwarderTotals
{
    private readonly long[] _drops = new long[(int)DropReason.Discarded + 1];

    public long Frames { get; private set; }

    public long Bytes { get; private set; }

    public long BadDestinationChains { get; private set; }

    public long ChecksumsComputed { get; private set; }

    public long Dropped(DropReason reason) => _drops[(int)reason];

    internal void Add(in ForwardResult result)
    {
        Frames += result.Frames;
        Bytes += result.Bytes;
        BadDestinationChains += result.BadDestinationChains;
        ChecksumsComputed += result.ChecksumsComputed;
        for (var i = 1; i < _drops.Length; i++)
        {
            _drops[i] += result.Dropped((DropReason)i);
        }
    }
}

/// <summary>
/// Moves frames from one device's TX queue (readable buffers: virtio-net header + frame) into another's
/// RX queue, translating the header between the two sides' negotiated features. One direction of a relay;
/// run on the data thread that owns both queues.
/// </summary>
/// <remarks>
/// With MRG_RXBUF on the destination a frame fills as many RX chains as it needs and num_buffers says how
/// many; without it the frame must fit one chain. Offloads pass through when the receiver negotiated them;
/// a GSO frame it cannot take is dropped (software segmentation is not implemented), and a NEEDS_CSUM frame
/// for a receiver without GUEST_CSUM gets its checksum computed here. When the destination has no buffers
/// the frame stays held (back-pressure) rather than being dropped.
/// </remarks>
public sealed class Forwarder
{
    public const int EthernetHeaderLength = 14;

    /// <summary>A 64 KiB GSO frame plus room for its Ethernet, VLAN and IP headers.</summary>
    public const int DefaultMaxFrameLength = (64 * 1024) + 1024;

    /// <summary>What a tap offers, as if it were a driver: checksum and TSO both ways, 12-byte headers.</summary>
    public const ulong TapFeatures =
        (1UL << VirtioFeatures.NetCsum) | (1UL << VirtioFeatures.NetGuestCsum) | (1UL << VirtioFeatures.NetGuestTso4) |
        (1UL << VirtioFeatures.NetGuestTso6) | (1UL << VirtioFeatures.NetHostTso4) | (1UL << VirtioFeatures.NetHostTso6) |
        (1UL << VirtioFeatures.NetMrgRxbuf) | (1UL << VirtioFeatures.Version1);

    /// <summary>Frames read from a tap or copied from a ring that may wait for their destination at once.</summary>
    private const int ReadyLimit = 256;

    // Exactly one of each pair is set: a ring, or a tap.
    private readonly SplitVirtqueue? _source;
    private readonly TapDevice? _sourceTap;
    private readonly SplitVirtqueue? _destination;
    private readonly TapDevice? _destinationTap;
    private readonly ulong _destinationFeatures;
    private readonly int _sourceHeaderLength;
    private readonly int _destinationHeaderLength;
    private readonly bool _mergeable;
    private readonly int _maxFrameLength;
    private readonly IFrameObserver? _observer;
    private readonly DescriptorChain _tx = new();
    // Destination chains popped and not yet used, in avail order; the objects are reused frame after frame.
    private readonly List<DescriptorChain> _held = [];
    private int _heldCount;
    private long _heldCapacity;
    private bool _pending;
    // Payload bytes placed in each destination chain for the frame being delivered.
    private int[] _placed = new int[8];
    private readonly Func<TimeSpan> _clock;
    // Impairment: frames copied out of the source ring wait here until their release time.
    private ImpairmentQueue<StagedFrame>? _impairment;
    // Frames due now: copied from a tap or a ring with no impairment, or left by a replaced impairment;
    // delivered before anything newer.
    private readonly Queue<StagedFrame> _ready = new();
    private readonly Stack<StagedFrame> _pool = new();
    private bool _stagedBlocked;

    /// <summary>Frames an impairment may hold before dropping at the tail (netem's default limit).</summary>
    public const int ImpairmentLimit = 1000;

    public Forwarder(SplitVirtqueue source, ulong sourceFeatures, SplitVirtqueue destination, ulong destinationFeatures,
        IFrameObserver? observer = null, int maxFrameLength = DefaultMaxFrameLength, Func<TimeSpan>? clock = null)
        : this(source ?? throw new ArgumentNullException(nameof(source)), null, sourceFeatures, destination ?? throw new ArgumentNullException(nameof(destination)), null, destinationFeatures, observer, maxFrameLength, clock)
    {
    }

    /// <summary>From a ring into a tap (the tap takes partial checksums and GSO: the kernel finishes them).</summary>
    public static Forwarder ToTap(SplitVirtqueue source, ulong sourceFeatures, TapDevice tap, IFrameObserver? observer = null, Func<TimeSpan>? clock = null) =>
        new(source ?? throw new ArgumentNullException(nameof(source)), null, sourceFeatures, null, tap ?? throw new ArgumentNullException(nameof(tap)), TapFeatures, observer, DefaultMaxFrameLength, clock);

    /// <summary>From a tap into a ring.</summary>
    public static Forwarder FromTap(TapDevice tap, SplitVirtqueue destination, ulong destinationFeatures, IFrameObserver? observer = null, Func<TimeSpan>? clock = null) =>
        new(null, tap ?? throw new ArgumentNullException(nameof(tap)), TapFeatures, destination ?? throw new ArgumentNullException(nameof(destination)), null, destinationFeatures, observer, DefaultMaxFrameLength, clock);

    /// <summary>From a tap into a tap (a container's s nic: the node side and the lan side are both taps).</summary>
    public static Forwarder TapToTap(TapDevice from, TapDevice to, IFrameObserver? observer = null, Func<TimeSpan>? clock = null) =>
        new(null, from ?? throw new ArgumentNullException(nameof(from)), TapFeatures, null, to ?? throw new ArgumentNullException(nameof(to)), TapFeatures, observer, DefaultMaxFrameLength, clock);

    private Forwarder(SplitVirtqueue? source, TapDevice? sourceTap, ulong sourceFeatures, SplitVirtqueue? destination, TapDevice? destinationTap, ulong destinationFeatures,
        IFrameObserver? observer, int maxFrameLength, Func<TimeSpan>? clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameLength, EthernetHeaderLength);
        _source = source;
        _sourceTap = sourceTap;
        _destination = destination;
        _destinationTap = destinationTap;
        _destinationFeatures = destinationFeatures;
        _sourceHeaderLength = VirtioNetHeader.SizeFor(sourceFeatures);
        _destinationHeaderLength = VirtioNetHeader.SizeFor(destinationFeatures);
        _mergeable = VirtioFeatures.Has(destinationFeatures, VirtioFeatures.NetMrgRxbuf);
        _maxFrameLength = maxFrameLength;
        _observer = observer;
        _clock = clock ?? (() => Stopwatch.GetElapsedTime(0));
    }

    /// <summary>
    /// Delays, drops or paces this direction's frames from now on (null or <see cref="ImpairmentSettings.IsNone"/>:
    /// straight through again). Frames an earlier impairment still holds go out first, in order.
    /// </summary>
    public void SetImpairment(ImpairmentSettings? settings, Random? random = null)
    {
        if (_impairment is { } old)
        {
            while (old.Count > 0)
            {
                _ready.Enqueue(old.Dequeue());
            }
        }

        _impairment = settings is null || settings.IsNone ? null : new ImpairmentQueue<StagedFrame>(settings, random ?? new Random());
    }

    public ImpairmentSettings? Impairment => _impairment?.Settings;

    /// <summary>When the next held frame is due (zero: now); null when the impairment holds nothing.</summary>
    public TimeSpan? NextRelease => _stagedBlocked ? null : _ready.Count > 0 ? TimeSpan.Zero : _impairment?.NextRelease is { } at ? at - _clock() : null;

    public SplitVirtqueue Source => _source ?? throw new InvalidOperationException("the source is a tap");

    public SplitVirtqueue Destination => _destination ?? throw new InvalidOperationException("the destination is a tap");

    /// <summary>Ring to ring without an impairment: frames go straight across, no copy in between.</summary>
    private bool Direct => _source is not null && _destination is not null && _impairment is null && _ready.Count == 0;

    public ForwarderTotals Totals { get; } = new();

    /// <summary>A source frame (or a due held frame) waits for destination buffers.</summary>
    public bool HasPendingFrame => _pending || _stagedBlocked;

    /// <summary>Destination chains popped and held for the next frames.</summary>
    public int HeldDestinationChains => _heldCount;

    /// <summary>
    /// Forwards up to <paramref name="maxFrames"/> frames (drops included), publishes the used entries of both
    /// queues once at the end, and says which drivers want an interrupt.
    /// </summary>
    public ForwardResult Forward(int maxFrames)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxFrames);
        if (!Direct)
        {
            return ForwardStaged(maxFrames);
        }

        return ForwardDirect(maxFrames, _source!, _destination!);
    }

    private ForwardResult ForwardDirect(int maxFrames, SplitVirtqueue source, SplitVirtqueue destination)
    {
        var result = default(ForwardResult);
        Span<byte> headerBytes = stackalloc byte[VirtioNetHeader.Size];
        var sourceUsed = source.LastUsedIdx;
        var destinationUsed = destination.LastUsedIdx;
        // Bounds the work a driver posting only bad RX chains can make us do in one call.
        var badChainBudget = destination.Size;
        for (var n = 0; n < maxFrames; n++)
        {
            if (!_pending)
            {
                var popped = source.TryPop(_tx);
                if (popped is PopResult.Empty or PopResult.AvailIndexOutOfRange)
                {
                    break;
                }
                if (popped != PopResult.Ok)
                {
                    result.CountDrop(DropReason.MalformedSourceChain);
                    continue;
                }
                _pending = true;
            }
            var outcome = Inspect(headerBytes, out var header, out var delivered, out var payloadLength, out var computeChecksum);
            if (outcome == DropReason.None)
            {
                var gathered = Gather(_destinationHeaderLength + payloadLength, ref result, ref badChainBudget);
                if (gathered == Gathered.Full)
                {
                    result.DestinationFull = true;
                    break;
                }
                if (gathered == Gathered.TooLarge)
                {
                    outcome = DropReason.FrameTooLarge;
                }
                else
                {
                    Deliver(delivered, payloadLength, computeChecksum, headerBytes, null);
                    if (computeChecksum)
                    {
                        result.ChecksumsComputed++;
                    }
                }
            }
            // Before the TX chain goes back: after that the driver may reuse its buffers.
            _observer?.OnFrame(in header, new FramePayload(_tx, _sourceHeaderLength, payloadLength), outcome);
            source.AddUsed(_tx.Head, 0);
            _pending = false;
            if (outcome == DropReason.None)
            {
                result.Frames++;
                result.Bytes += payloadLength;
            }
            else
            {
                result.CountDrop(outcome);
            }
        }
        source.FlushUsed();
        destination.FlushUsed();
        result.NotifySource = source.LastUsedIdx != sourceUsed && source.ShouldNotifyDriver();
        result.NotifyDestination = destination.LastUsedIdx != destinationUsed && destination.ShouldNotifyDriver();
        Totals.Add(result);
        return result;
    }

    /// <summary>
    /// The staged path (an impairment, or a tap at either end): frames are copied out of their source (a ring's
    /// chain goes back at once, so the sender never waits for a delay), wait in the ready queue or the
    /// impairment until due, then go to the destination as far as it has room.
    /// </summary>
    private ForwardResult ForwardStaged(int maxFrames)
    {
        var result = default(ForwardResult);
        Span<byte> headerBytes = stackalloc byte[VirtioNetHeader.Size];
        var sourceUsed = _source?.LastUsedIdx ?? 0;
        var destinationUsed = _destination?.LastUsedIdx ?? 0;
        var badChainBudget = _destination?.Size ?? 0;
        var now = _clock();
        _stagedBlocked = false;
        DeliverDue(maxFrames, now, headerBytes, ref result, ref badChainBudget);
        for (var n = 0; n < maxFrames && (_impairment is not null || _ready.Count < ReadyLimit); n++)
        {
            var frame = _pool.TryPop(out var pooled) ? pooled : new StagedFrame(_maxFrameLength);
            var outcome = _source is { } ring ? TakeFromRing(ring, frame, headerBytes, out var taken) : TakeFromTap(frame, out taken);
            if (taken == Taken.None)
            {
                _pool.Push(frame);
                break;
            }

            if (taken == Taken.Malformed)
            {
                _pool.Push(frame);
                result.CountDrop(DropReason.MalformedSourceChain);
                continue;
            }

            if (outcome == DropReason.None && _impairment is { Count: >= ImpairmentLimit })
            {
                outcome = DropReason.ImpairmentQueueFull;
            }

            if (outcome == DropReason.None && _impairment is not null && !_impairment.Offer(frame, frame.Length, now))
            {
                outcome = DropReason.ImpairmentLoss;
            }

            // The observer sees the frame as it entered, whatever becomes of it.
            if (_source is not null)
            {
                _observer?.OnFrame(in _takenHeader, new FramePayload(_tx, _sourceHeaderLength, frame.Length), outcome);
                _source.AddUsed(_tx.Head, 0);
            }
            else
            {
                _observer?.OnFrame(in _takenHeader, new FramePayload(frame.Payload), outcome);
            }

            if (outcome != DropReason.None)
            {
                _pool.Push(frame);
                result.CountDrop(outcome);
            }
            else if (_impairment is null)
            {
                _ready.Enqueue(frame);
            }
        }

        DeliverDue(maxFrames, now, headerBytes, ref result, ref badChainBudget);
        return Publish(result, sourceUsed, destinationUsed);
    }

    /// <summary>Publishes the used entries of whichever ends are rings, says which drivers want an interrupt, adds to the totals.</summary>
    private ForwardResult Publish(ForwardResult result, ushort sourceUsed, ushort destinationUsed)
    {
        if (_source is not null)
        {
            _source.FlushUsed();
            result.NotifySource = _source.LastUsedIdx != sourceUsed && _source.ShouldNotifyDriver();
        }

        if (_destination is not null)
        {
            _destination.FlushUsed();
            result.NotifyDestination = _destination.LastUsedIdx != destinationUsed && _destination.ShouldNotifyDriver();
        }

        Totals.Add(result);
        return result;
    }

    private enum Taken
    {
        None,
        Malformed,
        Frame,
    }

    // The header of the frame last taken, as its source sent it (for the observer).
    private VirtioNetHeader _takenHeader;

    /// <summary>Pops one chain and copies its frame (the chain is returned by the caller after the observer saw it).</summary>
    private DropReason TakeFromRing(SplitVirtqueue ring, StagedFrame frame, Span<byte> headerBytes, out Taken taken)
    {
        var popped = ring.TryPop(_tx);
        if (popped is PopResult.Empty or PopResult.AvailIndexOutOfRange)
        {
            taken = Taken.None;
            return DropReason.None;
        }

        if (popped != PopResult.Ok)
        {
            taken = Taken.Malformed;
            return DropReason.MalformedSourceChain;
        }

        taken = Taken.Frame;
        var outcome = Inspect(headerBytes, out _takenHeader, out var delivered, out var payloadLength, out var computeChecksum);
        frame.Length = outcome == DropReason.None ? _tx.CopyFromReadable(_sourceHeaderLength, frame.Data.AsSpan(StagedFrame.HeaderRoom, payloadLength)) : 0;
        frame.Header = delivered;
        frame.ComputeChecksum = computeChecksum;
        return outcome;
    }

    /// <summary>Reads one frame from the source tap, header and all, straight into the staged buffer.</summary>
    private DropReason TakeFromTap(StagedFrame frame, out Taken taken)
    {
        var start = StagedFrame.HeaderRoom - TapDevice.HeaderLength;
        var n = _sourceTap!.Read(frame.Data.AsSpan(start));
        if (n == 0)
        {
            taken = Taken.None;
            return DropReason.None;
        }

        taken = Taken.Frame;
        frame.Length = Math.Max(n - TapDevice.HeaderLength, 0);
        _takenHeader = n >= TapDevice.HeaderLength ? VirtioNetHeader.Read(frame.Data.AsSpan(start, TapDevice.HeaderLength)) : default;
        if (frame.Length < EthernetHeaderLength)
        {
            return DropReason.TruncatedFrame;
        }

        var outcome = InspectHeader(_takenHeader, frame.Length, out var delivered, out var computeChecksum);
        frame.Header = delivered;
        frame.ComputeChecksum = computeChecksum;
        return outcome;
    }

    /// <summary>Hands the frames that are due (ready ones first, then the impairment's) to the destination while it has room.</summary>
    private void DeliverDue(int maxFrames, TimeSpan now, Span<byte> headerBytes, ref ForwardResult result, ref int badChainBudget)
    {
        for (var n = 0; n < maxFrames && !_stagedBlocked; n++)
        {
            var fromReady = _ready.TryPeek(out var frame);
            if (!fromReady && (_impairment is null || !_impairment.TryPeekDue(now, out frame)))
            {
                return;
            }

            if (_destinationTap is { } tap)
            {
                var header = frame!.Header;
                header.NumBuffers = 0;
                header.Write(frame.Data.AsSpan(StagedFrame.HeaderRoom - TapDevice.HeaderLength, TapDevice.HeaderLength));
                if (!tap.Write(frame.Data.AsSpan(StagedFrame.HeaderRoom - TapDevice.HeaderLength, TapDevice.HeaderLength + frame.Length)))
                {
                    _stagedBlocked = true;
                    result.DestinationFull = true;
                    return;
                }

                result.Frames++;
                result.Bytes += frame.Length;
            }
            else
            {
                var gathered = Gather(_destinationHeaderLength + frame!.Length, ref result, ref badChainBudget);
                if (gathered == Gathered.Full)
                {
                    _stagedBlocked = true;
                    result.DestinationFull = true;
                    return;
                }

                if (gathered == Gathered.TooLarge)
                {
                    result.CountDrop(DropReason.FrameTooLarge);
                }
                else
                {
                    Deliver(frame.Header, frame.Length, frame.ComputeChecksum, headerBytes, frame);
                    result.ChecksumsComputed += frame.ComputeChecksum ? 1 : 0;
                    result.Frames++;
                    result.Bytes += frame.Length;
                }
            }

            _pool.Push(fromReady ? _ready.Dequeue() : _impairment!.Dequeue());
        }
    }

    /// <summary>
    /// Gives every held chain back to its driver before the rings stop (GET_VRING_BASE) or the memory table
    /// changes: destination chains empty, a pending source frame dropped as <see cref="DropReason.Discarded"/>.
    /// Returns which drivers want an interrupt, as <see cref="Forward"/> does.
    /// </summary>
    public ForwardResult ReturnHeld()
    {
        var result = default(ForwardResult);
        var sourceUsed = _source?.LastUsedIdx ?? 0;
        var destinationUsed = _destination?.LastUsedIdx ?? 0;
        for (var i = 0; i < _heldCount; i++)
        {
            _destination!.AddUsed(_held[i].Head, 0);
        }
        _heldCount = 0;
        _heldCapacity = 0;
        if (_pending && _source is not null)
        {
            Span<byte> headerBytes = stackalloc byte[VirtioNetHeader.Size];
            Inspect(headerBytes, out var header, out _, out var payloadLength, out _);
            _observer?.OnFrame(in header, new FramePayload(_tx, _sourceHeaderLength, payloadLength), DropReason.Discarded);
            _source.AddUsed(_tx.Head, 0);
            _pending = false;
            result.CountDrop(DropReason.Discarded);
        }
        return Publish(result, sourceUsed, destinationUsed);
    }

    /// <summary>Reads the source header once and decides what the destination may receive.</summary>
    private DropReason Inspect(Span<byte> headerBytes, out VirtioNetHeader header, out VirtioNetHeader delivered,
        out int payloadLength, out bool computeChecksum)
    {
        header = default;
        delivered = default;
        computeChecksum = false;
        var readable = _tx.ReadableLength;
        payloadLength = Math.Max(readable - _sourceHeaderLength, 0);
        if (readable < _sourceHeaderLength + EthernetHeaderLength)
        {
            return DropReason.TruncatedFrame;
        }
        var bytes = headerBytes[.._sourceHeaderLength];
        _tx.CopyFromReadable(0, bytes);
        header = VirtioNetHeader.Read(bytes);
        if (payloadLength > _maxFrameLength)
        {
            return DropReason.FrameTooLarge;
        }
        return InspectHeader(header, payloadLength, out delivered, out computeChecksum);
    }

    /// <summary>Decides from a frame's header what the destination may receive (the part of <see cref="Inspect"/> every source shares).</summary>
    private DropReason InspectHeader(VirtioNetHeader header, int payloadLength, out VirtioNetHeader delivered, out bool computeChecksum)
    {
        delivered = default;
        computeChecksum = false;
        var guestCsum = Has(VirtioFeatures.NetGuestCsum);
        if (header.GsoType != VirtioNetHeader.GsoNone)
        {
            var supported = (header.GsoType & ~VirtioNetHeader.GsoEcn) switch
            {
                VirtioNetHeader.GsoTcpV4 => Has(VirtioFeatures.NetGuestTso4),
                VirtioNetHeader.GsoTcpV6 => Has(VirtioFeatures.NetGuestTso6),
                VirtioNetHeader.GsoUdp => Has(VirtioFeatures.NetGuestUfo),
                // The header does not say the IP version: ask for both rather than parse the frame.
                VirtioNetHeader.GsoUdpL4 => Has(VirtioFeatures.NetGuestUso4) && Has(VirtioFeatures.NetGuestUso6),
                _ => false,
            };
            // The receiver finishes checksums of the segments it builds, so GSO needs GUEST_CSUM too.
            if (!supported || !guestCsum || ((header.GsoType & VirtioNetHeader.GsoEcn) != 0 && !Has(VirtioFeatures.NetGuestEcn)))
            {
                return DropReason.GsoNotSupported;
            }
        }
        // Only the checksum flags mean something from device to driver; RSC_INFO and unknown bits are not ours to pass.
        var flags = (byte)(header.Flags & (VirtioNetHeader.FlagNeedsCsum | VirtioNetHeader.FlagDataValid));
        if ((flags & VirtioNetHeader.FlagNeedsCsum) != 0)
        {
            if (header.CsumStart + header.CsumOffset + 2 > payloadLength)
            {
                return DropReason.InvalidChecksumOffsets;
            }
            if (!guestCsum)
            {
                computeChecksum = true;
                flags &= unchecked((byte)~VirtioNetHeader.FlagNeedsCsum);
            }
        }
        if (!guestCsum)
        {
            flags &= unchecked((byte)~VirtioNetHeader.FlagDataValid);
        }
        delivered = header;
        delivered.Flags = flags;
        return DropReason.None;
    }

    private Gathered Gather(int needed, ref ForwardResult result, ref int budget)
    {
        while (_heldCapacity < needed)
        {
            // Without MRG_RXBUF the frame must fit in one chain; the chain stays held for a smaller frame.
            if ((_heldCount > 0 && !_mergeable) || _heldCount >= _destination!.Size || _heldCount >= ushort.MaxValue)
            {
                return Gathered.TooLarge;
            }
            if (_held.Count == _heldCount)
            {
                _held.Add(new DescriptorChain());
            }
            var chain = _held[_heldCount];
            var popped = _destination.TryPop(chain);
            if (popped is PopResult.Empty or PopResult.AvailIndexOutOfRange)
            {
                return Gathered.Full;
            }
            var usable = popped == PopResult.Ok && chain.ReadableLength == 0 && chain.WritableLength >= _destinationHeaderLength;
            if (popped == PopResult.Ok && !usable)
            {
                // Valid as a chain, unusable for RX: give it back empty, as Linux vhost-net refuses it too.
                _destination.AddUsed(chain.Head, 0);
            }
            if (!usable)
            {
                result.BadDestinationChains++;
                if (--budget < 0)
                {
                    return Gathered.Full;
                }
                continue;
            }
            _heldCount++;
            _heldCapacity += chain.WritableLength;
        }
        return Gathered.Ok;
    }

    /// <param name="staged">The frame's copy when an impairment held it; null: straight from the source chain.</param>
    private void Deliver(VirtioNetHeader header, int payloadLength, bool computeChecksum, Span<byte> headerBytes, StagedFrame? staged)
    {
        var chains = 0;
        var sourceOffset = _sourceHeaderLength;
        var remaining = payloadLength;
        while ((remaining > 0 || chains == 0) && chains < _heldCount)
        {
            var chain = _held[chains];
            var start = chains == 0 ? _destinationHeaderLength : 0;
            var n = Math.Min(chain.WritableLength - start, remaining);
            if (staged is null)
            {
                DescriptorChain.Copy(_tx, sourceOffset, chain, start, n);
            }
            else
            {
                chain.CopyToWritable(start, staged.Data.AsSpan(StagedFrame.HeaderRoom + sourceOffset - _sourceHeaderLength, n));
            }

            if (chains == _placed.Length)
            {
                Array.Resize(ref _placed, chains * 2);
            }
            _placed[chains++] = n;
            sourceOffset += n;
            remaining -= n;
        }
        if (computeChecksum)
        {
            FillChecksum(header, chains);
        }
        header.NumBuffers = (ushort)chains;
        var bytes = headerBytes[.._destinationHeaderLength];
        header.Write(bytes);
        _held[0].CopyToWritable(0, bytes);
        for (var i = 0; i < chains; i++)
        {
            _destination!.AddUsed(_held[i].Head, (uint)(_placed[i] + (i == 0 ? _destinationHeaderLength : 0)));
            _heldCapacity -= _held[i].WritableLength;
        }
        // Rotate the used chain objects behind the ones still held, keeping the held ones in avail order.
        for (var i = 0; i + chains < _heldCount; i++)
        {
            (_held[i], _held[i + chains]) = (_held[i + chains], _held[i]);
        }
        _heldCount -= chains;
    }

    /// <summary>
    /// Completes a partial checksum in the destination copy (what the receiver will read): the sum from
    /// csum_start to the end, seeded by the pseudo-header sum the sender left in the field.
    /// </summary>
    private void FillChecksum(VirtioNetHeader header, int chains)
    {
        ulong sum = 0;
        var odd = false;
        var skip = (int)header.CsumStart;
        for (var i = 0; i < chains; i++)
        {
            var length = _placed[i];
            if (skip >= length)
            {
                skip -= length;
                continue;
            }
            var start = i == 0 ? _destinationHeaderLength : 0;
            foreach (var piece in _held[i].EnumerateWritable(start + skip, length - skip))
            {
                sum = InternetChecksum.Add(sum, piece, ref odd);
            }
            skip = 0;
        }
        var value = InternetChecksum.Finish(sum);
        var at = header.CsumStart + header.CsumOffset;
        WritePayloadByte(chains, at, (byte)(value >> 8));
        WritePayloadByte(chains, at + 1, (byte)value);
    }

    private void WritePayloadByte(int chains, int offset, byte value)
    {
        for (var i = 0; i < chains; i++)
        {
            if (offset < _placed[i])
            {
                _held[i].CopyToWritable(offset + (i == 0 ? _destinationHeaderLength : 0), [value]);
                return;
            }
            offset -= _placed[i];
        }
    }

    private bool Has(int bit) => VirtioFeatures.Has(_destinationFeatures, bit);

    private enum Gathered
    {
        Ok,
        Full,
        TooLarge,
    }
}
