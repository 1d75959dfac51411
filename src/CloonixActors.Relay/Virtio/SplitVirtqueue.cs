using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CloonixActors.Relay.Memory;

namespace CloonixActors.Relay.Virtio;

/// <summary>The three ring addresses of VHOST_USER_SET_VRING_ADDR, in QEMU's virtual address space.</summary>
public readonly record struct VirtqueueAddresses(ulong DescTable, ulong AvailRing, ulong UsedRing);

/// <summary>Why a queue could not be set up from the driver's configuration.</summary>
public enum VirtqueueSetupError
{
    None = 0,
    /// <summary>Not a power of two between 1 and 32768.</summary>
    InvalidSize,
    DescTableUnmapped,
    AvailRingUnmapped,
    UsedRingUnmapped,
    /// <summary>Descriptor table not 16-byte, avail ring not 2-byte or used ring not 4-byte aligned.</summary>
    Misaligned,
}

/// <summary>
/// What <see cref="SplitVirtqueue.TryPop"/> found. Everything after <see cref="Empty"/> is a driver error:
/// the queue counted it, consumed the avail entry and, when the head was a valid index, returned the chain
/// to the driver with length 0 so its buffers are not leaked.
/// </summary>
public enum PopResult
{
    Ok = 0,
    Empty,
    /// <summary>avail->idx moved more than the queue size past our last_avail_idx: the queue is broken until SetBase.</summary>
    AvailIndexOutOfRange,
    HeadOutOfRange,
    /// <summary>A next field beyond the table (the queue size, or an indirect table's entries).</summary>
    NextOutOfRange,
    /// <summary>More descriptors than the table holds: a loop, or a chain longer than the queue size.</summary>
    ChainTooLong,
    ZeroLengthBuffer,
    /// <summary>The chain's buffers add up to more than int.MaxValue bytes.</summary>
    ChainTooLarge,
    /// <summary>A buffer outside every region, crossing into a gap, or wrapping the address space.</summary>
    BufferUnmapped,
    /// <summary>A device-readable buffer after a device-writable one.</summary>
    ReadableAfterWritable,
    IndirectNotNegotiated,
    /// <summary>Both INDIRECT and NEXT on one descriptor, which the spec forbids.</summary>
    IndirectWithNext,
    /// <summary>An indirect table length of 0, not a multiple of 16, or more than the queue size entries.</summary>
    IndirectBadLength,
    IndirectTableUnmapped,
    NestedIndirect,
    TooManySegments,
}

/// <summary>Counters of one queue. Written only by the thread owning the queue; read from others as approximate values.</summary>
public sealed class VirtqueueStats
{
    private readonly long[] _errors = new long[Enum.GetValues<PopResult>().Length];

    /// <summary>Valid chains handed out.</summary>
    public long Popped { get; internal set; }

    /// <summary>Used entries written, including chains returned after an error.</summary>
    public long Pushed { get; internal set; }

    public long Errors(PopResult result) => _errors[(int)result];

    public long TotalErrors
    {
        get
        {
            long total = 0;
            for (var i = (int)PopResult.Empty + 1; i < _errors.Length; i++)
            {
                total += _errors[i];
            }
            return total;
        }
    }

    internal void Count(PopResult result) => _errors[(int)result]++;
}

/// <summary>
/// The device side of a split virtqueue whose rings live in guest memory. Not thread-safe: one data thread
/// owns a queue (pop, push, notifications); GetBase/SetBase belong to that thread too, or to the control
/// thread while the data thread is paused.
/// </summary>
/// <remarks>
/// Ring layout (virtio 1.x §2.7): descriptors of 16 bytes {addr u64, len u32, flags u16, next u16}; avail
/// {flags u16, idx u16, ring[size] u16, used_event u16}; used {flags u16, idx u16, ring[size] {id u32,
/// len u32}, avail_event u16}. Every value read from the rings is read once into a local and checked
/// before use, so a driver rewriting its ring concurrently can give us garbage but not an access outside
/// guest memory.
/// </remarks>
public sealed unsafe class SplitVirtqueue
{
    public const int MaxSize = 32768;

    private const ushort DescFlagNext = 1;
    private const ushort DescFlagWrite = 2;
    private const ushort DescFlagIndirect = 4;
    private const ushort AvailFlagNoInterrupt = 1;
    private const ushort UsedFlagNoNotify = 1;
    private const int DescriptorSize = 16;

    private readonly GuestMemory _memory;
    private readonly byte* _desc;
    private readonly byte* _avail;
    private readonly byte* _used;
    private readonly ushort _mask;
    private ushort _lastAvail;
    // The last avail->idx read: entries up to it are known to be published, so it is read again only when they are consumed.
    private ushort _availShadow;
    // The next used slot; used->idx is published from it by FlushUsed.
    private ushort _usedShadow;
    private ushort _publishedUsed;
    private ushort _signalledUsed;
    private bool _signalledValid;
    private ushort _usedFlags;
    private bool _broken;

    private SplitVirtqueue(GuestMemory memory, int size, byte* desc, byte* avail, byte* used, ulong features, ushort lastAvailIdx)
    {
        _memory = memory;
        Size = size;
        _mask = (ushort)(size - 1);
        _desc = desc;
        _avail = avail;
        _used = used;
        EventIdx = VirtioFeatures.Has(features, VirtioFeatures.RingEventIdx);
        IndirectDescriptors = VirtioFeatures.Has(features, VirtioFeatures.RingIndirectDesc);
        SetBase(lastAvailIdx);
    }

    public int Size { get; }

    /// <summary>VIRTIO_RING_F_EVENT_IDX was negotiated: notifications use used_event/avail_event instead of flags.</summary>
    public bool EventIdx { get; }

    /// <summary>VIRTIO_RING_F_INDIRECT_DESC was negotiated: chains may point to indirect tables.</summary>
    public bool IndirectDescriptors { get; }

    /// <summary>The next avail ring entry to consume: what GET_VRING_BASE reports.</summary>
    public ushort LastAvailIdx => _lastAvail;

    /// <summary>The next used ring entry to fill (published to the driver by <see cref="FlushUsed"/>).</summary>
    public ushort LastUsedIdx => _usedShadow;

    /// <summary>The driver moved avail->idx impossibly far; TryPop refuses until <see cref="SetBase"/>.</summary>
    public bool IsBroken => _broken;

    public VirtqueueStats Stats { get; } = new();

    /// <summary>
    /// Sets up a queue from SET_VRING_NUM, SET_VRING_BASE and SET_VRING_ADDR and the negotiated features.
    /// The rings are translated through <see cref="GuestMemory.TryTranslateUserAddr"/> with their full
    /// sizes (event idx fields included), so the queue never reads or writes outside them. A new memory
    /// table needs a new queue: pass the old queue's <see cref="GetBase"/> as <paramref name="lastAvailIdx"/>.
    /// </summary>
    public static bool TryCreate(GuestMemory memory, int size, VirtqueueAddresses addresses, ulong features, ushort lastAvailIdx,
        [NotNullWhen(true)] out SplitVirtqueue? queue, out VirtqueueSetupError error)
    {
        ArgumentNullException.ThrowIfNull(memory);
        queue = null;
        error = VirtqueueSetupError.None;
        if (size is < 1 or > MaxSize || (size & (size - 1)) != 0)
        {
            error = VirtqueueSetupError.InvalidSize;
        }
        else if (!memory.TryTranslateUserAddr(addresses.DescTable, (ulong)(DescriptorSize * size), out var desc))
        {
            error = VirtqueueSetupError.DescTableUnmapped;
        }
        else if (!memory.TryTranslateUserAddr(addresses.AvailRing, (ulong)(6 + (2 * size)), out var avail))
        {
            error = VirtqueueSetupError.AvailRingUnmapped;
        }
        else if (!memory.TryTranslateUserAddr(addresses.UsedRing, (ulong)(6 + (8 * size)), out var used))
        {
            error = VirtqueueSetupError.UsedRingUnmapped;
        }
        // Aligned host addresses keep the 16-bit index accesses single, untorn loads and stores.
        else if ((desc & 15) != 0 || (avail & 1) != 0 || (used & 3) != 0)
        {
            error = VirtqueueSetupError.Misaligned;
        }
        else
        {
            queue = new SplitVirtqueue(memory, size, (byte*)desc, (byte*)avail, (byte*)used, features, lastAvailIdx);
        }
        return queue is not null;
    }

    /// <summary>last_avail_idx for VHOST_USER_GET_VRING_BASE.</summary>
    public ushort GetBase() => _lastAvail;

    /// <summary>
    /// VHOST_USER_SET_VRING_BASE: restarts consumption at <paramref name="lastAvailIdx"/>, takes the used
    /// index from the ring (what the driver has seen), and clears the broken state.
    /// </summary>
    public void SetBase(ushort lastAvailIdx)
    {
        _lastAvail = lastAvailIdx;
        _availShadow = lastAvailIdx;
        _usedShadow = Volatile.Read(ref *(ushort*)(_used + 2));
        _publishedUsed = _usedShadow;
        _signalledUsed = _usedShadow;
        _signalledValid = false;
        _broken = false;
    }

    /// <summary>Entries the driver has made available and we have not consumed (0 when the ring is broken).</summary>
    public int AvailableCount()
    {
        var pending = (ushort)(Volatile.Read(ref *(ushort*)(_avail + 2)) - _lastAvail);
        return _broken || pending > Size ? 0 : pending;
    }

    /// <summary>
    /// Takes the next available chain into <paramref name="chain"/>, validated. On a driver error (see
    /// <see cref="PopResult"/>) the chain is not usable, the entry is consumed and counted, and a chain with
    /// a valid head is already returned to the used ring with length 0.
    /// </summary>
    public PopResult TryPop(DescriptorChain chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        chain.Reset(0);
        if (_broken)
        {
            return PopResult.AvailIndexOutOfRange;
        }
        if (_lastAvail == _availShadow)
        {
            // Acquire: the ring entry and descriptors read below were written before the driver published idx.
            var availIdx = Volatile.Read(ref *(ushort*)(_avail + 2));
            var pending = (ushort)(availIdx - _lastAvail);
            if (pending > Size)
            {
                // Like Linux vhost: no entry is trustworthy any more; stop until the queue is reset.
                _broken = true;
                Stats.Count(PopResult.AvailIndexOutOfRange);
                return PopResult.AvailIndexOutOfRange;
            }
            if (pending == 0)
            {
                return PopResult.Empty;
            }
            _availShadow = availIdx;
        }
        var head = *(ushort*)(_avail + 4 + (2 * (_lastAvail & _mask)));
        _lastAvail++;
        var result = head < Size ? Walk(head, chain) : PopResult.HeadOutOfRange;
        if (result != PopResult.Ok)
        {
            Stats.Count(result);
            chain.Reset(head);
            if (head < Size)
            {
                Push(head, 0);
            }
            return result;
        }
        Stats.Popped++;
        return PopResult.Ok;
    }

    /// <summary>Returns a chain with the number of bytes written into its writable buffers, and publishes it.</summary>
    public void Push(ushort head, uint writtenLength)
    {
        AddUsed(head, writtenLength);
        FlushUsed();
    }

    /// <summary>
    /// Writes a used element without publishing it: batch several, then <see cref="FlushUsed"/> once. Mergeable
    /// RX needs this, as the driver reads all of a frame's buffers as soon as it sees the first.
    /// </summary>
    public void AddUsed(ushort head, uint writtenLength)
    {
        // Our own caller's mistake, not the driver's: the id must be an index we got from TryPop.
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(head, Size);
        var element = _used + 4 + (8 * (_usedShadow & _mask));
        Unsafe.WriteUnaligned(element, (uint)head);
        Unsafe.WriteUnaligned(element + 4, writtenLength);
        _usedShadow++;
        Stats.Pushed++;
    }

    /// <summary>Publishes the used elements added so far (release store of used->idx).</summary>
    public void FlushUsed()
    {
        if (_usedShadow != _publishedUsed)
        {
            // Release: the elements, and our reads and writes of the buffers, happen before the driver sees idx.
            Volatile.Write(ref *(ushort*)(_used + 2), _usedShadow);
            _publishedUsed = _usedShadow;
        }
    }

    /// <summary>
    /// After publishing used entries: whether the driver wants an interrupt (write the call eventfd).
    /// False when nothing was published since the last call. Otherwise, with EVENT_IDX, vring_need_event(used_event,
    /// new, old) over the entries published since the last call; without it, whether avail->flags lacks
    /// VRING_AVAIL_F_NO_INTERRUPT.
    /// </summary>
    public bool ShouldNotifyDriver()
    {
        // Store→load: our used->idx store must be visible before we read the driver's flag or event,
        // or both sides may decide the other will act and the interrupt is lost.
        Interlocked.MemoryBarrier();
        var newUsed = _publishedUsed;
        var oldUsed = _signalledUsed;
        var valid = _signalledValid;
        if (newUsed == oldUsed)
        {
            // Nothing published since the last decision: the driver has already been told or did not want it.
            return false;
        }
        _signalledUsed = newUsed;
        _signalledValid = true;
        if (EventIdx)
        {
            // Without a previous decision on this ring (new queue, SetBase) "old" is a guess: notify, as Linux vhost does.
            if (!valid)
            {
                return true;
            }
            var usedEvent = Volatile.Read(ref *(ushort*)(_avail + 4 + (2 * Size)));
            return (ushort)(newUsed - usedEvent - 1) < (ushort)(newUsed - oldUsed);
        }
        return (Volatile.Read(ref *(ushort*)_avail) & AvailFlagNoInterrupt) == 0;
    }

    /// <summary>
    /// Asks the driver to kick us again (before sleeping on the kick eventfd): avail_event set to the avail index
    /// we have seen with EVENT_IDX, else VRING_USED_F_NO_NOTIFY cleared. Returns true when buffers arrived
    /// meanwhile or were already pending: poll again instead of sleeping.
    /// </summary>
    public bool EnableNotifications()
    {
        if (EventIdx)
        {
            Volatile.Write(ref *(ushort*)(_used + 4 + (8 * Size)), _availShadow);
        }
        else
        {
            _usedFlags &= unchecked((ushort)~UsedFlagNoNotify);
            Volatile.Write(ref *(ushort*)_used, _usedFlags);
        }
        // Store→load again: the driver checks our event/flag after publishing avail->idx, we check avail->idx after ours.
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref *(ushort*)(_avail + 2)) != _lastAvail;
    }

    /// <summary>
    /// Tells the driver not to kick while we poll. Without EVENT_IDX: VRING_USED_F_NO_NOTIFY. With it, leaving
    /// avail_event behind is enough: the driver kicks only when its index crosses avail_event.
    /// </summary>
    public void DisableNotifications()
    {
        if (!EventIdx)
        {
            _usedFlags |= UsedFlagNoNotify;
            Volatile.Write(ref *(ushort*)_used, _usedFlags);
        }
    }

    private PopResult Walk(ushort head, DescriptorChain chain)
    {
        chain.Reset(head);
        int index = head;
        for (var visited = 1; ; visited++)
        {
            // More descriptors than the table holds means a loop: stop there rather than follow it.
            if (visited > Size)
            {
                return PopResult.ChainTooLong;
            }
            var d = Unsafe.ReadUnaligned<Descriptor>(_desc + (DescriptorSize * index));
            if ((d.Flags & DescFlagIndirect) != 0)
            {
                if (!IndirectDescriptors)
                {
                    return PopResult.IndirectNotNegotiated;
                }
                if ((d.Flags & DescFlagNext) != 0)
                {
                    return PopResult.IndirectWithNext;
                }
                return WalkIndirect(d, chain);
            }
            var added = Append(d, chain);
            if (added != PopResult.Ok || (d.Flags & DescFlagNext) == 0)
            {
                return added;
            }
            if (d.Next >= Size)
            {
                return PopResult.NextOutOfRange;
            }
            index = d.Next;
        }
    }

    private PopResult WalkIndirect(Descriptor indirect, DescriptorChain chain)
    {
        if (indirect.Len == 0 || indirect.Len % DescriptorSize != 0 || indirect.Len / DescriptorSize > Size)
        {
            return PopResult.IndirectBadLength;
        }
        var entries = (int)(indirect.Len / DescriptorSize);
        if (!_memory.IsMapped(indirect.Addr, indirect.Len))
        {
            return PopResult.IndirectTableUnmapped;
        }
        // Usually the table is in one region; otherwise (straddling two adjacent ones) read entries one by one.
        byte* table = null;
        if (_memory.TryTranslateAddress(indirect.Addr, indirect.Len, out var host))
        {
            table = (byte*)host;
        }
        var index = 0;
        for (var visited = 1; ; visited++)
        {
            if (visited > entries)
            {
                return PopResult.ChainTooLong;
            }
            Descriptor d;
            if (table is not null)
            {
                d = Unsafe.ReadUnaligned<Descriptor>(table + (DescriptorSize * index));
            }
            else if (!_memory.TryRead(indirect.Addr + (ulong)(DescriptorSize * index), new Span<byte>(&d, DescriptorSize)))
            {
                return PopResult.IndirectTableUnmapped;
            }
            if ((d.Flags & DescFlagIndirect) != 0)
            {
                return PopResult.NestedIndirect;
            }
            var added = Append(d, chain);
            if (added != PopResult.Ok || (d.Flags & DescFlagNext) == 0)
            {
                return added;
            }
            if (d.Next >= entries)
            {
                return PopResult.NextOutOfRange;
            }
            index = d.Next;
        }
    }

    private PopResult Append(Descriptor d, DescriptorChain chain)
    {
        if (d.Len == 0)
        {
            return PopResult.ZeroLengthBuffer;
        }
        var writable = (d.Flags & DescFlagWrite) != 0;
        if (!writable && chain.WritableLength > 0)
        {
            return PopResult.ReadableAfterWritable;
        }
        if ((long)chain.ReadableLength + chain.WritableLength + d.Len > int.MaxValue)
        {
            return PopResult.ChainTooLarge;
        }
        return chain.Append(_memory, d.Addr, (int)d.Len, writable);
    }

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct Descriptor
    {
        public ulong Addr;
        public uint Len;
        public ushort Flags;
        public ushort Next;
    }
}
