using System.Diagnostics.CodeAnalysis;

namespace CloonixActors.Relay.Memory;

/// <summary>
/// One region of a VHOST_USER_SET_MEM_TABLE message, plus where its fd was mapped in this process.
/// </summary>
/// <param name="GuestPhysAddr">Guest-physical address of the region's first byte (descriptor addresses are in this space).</param>
/// <param name="Size">Size of the region in bytes.</param>
/// <param name="UserAddr">QEMU's virtual address of the region (SET_VRING_ADDR addresses are in this space).</param>
/// <param name="MmapOffset">Offset of the region inside the mapped fd.</param>
/// <param name="MappedBase">Start of this process's mapping of Size + MmapOffset bytes of the fd.</param>
public readonly record struct GuestMemoryRegion(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset, nint MappedBase)
{
    /// <summary>Host address of the region's first byte: the mapping starts MmapOffset bytes before it.</summary>
    public nint HostStart => MappedBase + (nint)MmapOffset;
}

/// <summary>
/// An immutable guest memory table: address translation with bounds checks for everything a driver hands us.
/// A new SET_MEM_TABLE builds a new object, so a data thread keeps using the old table until it is told to
/// switch; the owner then disposes the old one, which runs its release action (munmap).
/// </summary>
/// <remarks>
/// Every method returns false rather than throwing on a bad guest address: guest memory and rings are
/// untrusted input, and a malformed ring must fail the chain, never the process. Thread-safe for readers.
/// </remarks>
public sealed unsafe class GuestMemory : IDisposable
{
    /// <summary>Above VHOST_USER_MAX_RAM_SLOTS (509): more regions than that is not a QEMU table.</summary>
    public const int MaxRegions = 512;

    // Sorted by guest-physical address; parallel arrays keep the binary search on the hot path compact.
    private readonly GuestMemoryRegion[] _regions;
    private readonly ulong[] _starts;
    private readonly ulong[] _ends;
    private readonly nint[] _hosts;
    private Action? _release;
    private volatile bool _disposed;

    /// <summary>Builds a table; throws <see cref="ArgumentException"/> on an inconsistent one (see <see cref="TryCreate"/>).</summary>
    /// <param name="regions">The regions, in any order.</param>
    /// <param name="release">Run once by <see cref="Dispose"/>: the owner's munmap of every region.</param>
    public GuestMemory(ReadOnlySpan<GuestMemoryRegion> regions, Action? release = null)
    {
        var error = Validate(regions, out var sorted);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(regions));
        }
        _regions = sorted;
        _starts = new ulong[sorted.Length];
        _ends = new ulong[sorted.Length];
        _hosts = new nint[sorted.Length];
        for (var i = 0; i < sorted.Length; i++)
        {
            _starts[i] = sorted[i].GuestPhysAddr;
            _ends[i] = sorted[i].GuestPhysAddr + sorted[i].Size;
            _hosts[i] = sorted[i].HostStart;
        }
        _release = release;
    }

    /// <summary>A table without regions: every translation fails. For queues that have no memory yet.</summary>
    public static GuestMemory Empty { get; } = new([]);

    /// <summary>The regions sorted by guest-physical address.</summary>
    public ReadOnlySpan<GuestMemoryRegion> Regions => _regions;

    public bool IsDisposed => _disposed;

    /// <summary>
    /// Builds a table from QEMU's message without throwing. On failure the release action is not kept:
    /// the caller still owns its mappings and must unmap them.
    /// </summary>
    public static bool TryCreate(ReadOnlySpan<GuestMemoryRegion> regions, Action? release,
        [NotNullWhen(true)] out GuestMemory? memory, [NotNullWhen(false)] out string? error)
    {
        error = Validate(regions, out _);
        memory = error is null ? new GuestMemory(regions, release) : null;
        return memory is not null;
    }

    /// <summary>
    /// Translates a guest-physical range that lies inside one region. Fails when the range is unmapped,
    /// crosses the end of its region (even into an adjacent one: use <see cref="TryGetSegments"/> for that),
    /// overflows, or is longer than a Span can be.
    /// </summary>
    public bool TryTranslate(ulong gpa, uint length, out Span<byte> span)
    {
        if (length <= int.MaxValue && TryTranslateAddress(gpa, length, out var host))
        {
            span = new Span<byte>((void*)host, (int)length);
            return true;
        }
        span = default;
        return false;
    }

    /// <summary>Like <see cref="TryTranslate"/>, as a host address; a zero length checks only that gpa is mapped.</summary>
    public bool TryTranslateAddress(ulong gpa, ulong length, out nint host)
    {
        host = 0;
        var i = Find(gpa);
        // Subtracting from the region end instead of adding to gpa cannot overflow.
        if (i < 0 || length > _ends[i] - gpa || _disposed)
        {
            return false;
        }
        host = _hosts[i] + (nint)(gpa - _starts[i]);
        return true;
    }

    /// <summary>
    /// Translates a guest-physical range into host pieces, following the range across adjacent regions
    /// (QEMU splits RAM into regions and a buffer may straddle two). Fails when any byte is unmapped, the
    /// range overflows, is longer than int.MaxValue, or <paramref name="destination"/> is too short.
    /// A zero length succeeds with no pieces.
    /// </summary>
    public bool TryGetSegments(ulong gpa, uint length, Span<BufferSegment> destination, out int count)
    {
        count = 0;
        if (length > int.MaxValue || length > ulong.MaxValue - gpa || _disposed)
        {
            return false;
        }
        var remaining = (ulong)length;
        while (remaining > 0)
        {
            var i = Find(gpa);
            if (i < 0 || count == destination.Length)
            {
                count = 0;
                return false;
            }
            var piece = Math.Min(remaining, _ends[i] - gpa);
            destination[count++] = new BufferSegment(_hosts[i] + (nint)(gpa - _starts[i]), (int)piece);
            gpa += piece;
            remaining -= piece;
        }
        return true;
    }

    /// <summary>Whether every byte of the range is mapped, across adjacent regions.</summary>
    public bool IsMapped(ulong gpa, ulong length)
    {
        if (length > ulong.MaxValue - gpa || _disposed)
        {
            return false;
        }
        while (length > 0)
        {
            var i = Find(gpa);
            if (i < 0)
            {
                return false;
            }
            var piece = Math.Min(length, _ends[i] - gpa);
            gpa += piece;
            length -= piece;
        }
        return true;
    }

    /// <summary>Copies guest bytes out (across adjacent regions); false and nothing meaningful copied when unmapped.</summary>
    public bool TryRead(ulong gpa, Span<byte> destination)
    {
        if (!IsMapped(gpa, (ulong)destination.Length))
        {
            return false;
        }
        while (!destination.IsEmpty)
        {
            var i = Find(gpa);
            var piece = (int)Math.Min((ulong)destination.Length, _ends[i] - gpa);
            new ReadOnlySpan<byte>((void*)(_hosts[i] + (nint)(gpa - _starts[i])), piece).CopyTo(destination);
            destination = destination[piece..];
            gpa += (ulong)piece;
        }
        return true;
    }

    /// <summary>Copies bytes into guest memory (across adjacent regions); writes nothing when any byte is unmapped.</summary>
    public bool TryWrite(ulong gpa, ReadOnlySpan<byte> source)
    {
        if (!IsMapped(gpa, (ulong)source.Length))
        {
            return false;
        }
        while (!source.IsEmpty)
        {
            var i = Find(gpa);
            var piece = (int)Math.Min((ulong)source.Length, _ends[i] - gpa);
            source[..piece].CopyTo(new Span<byte>((void*)(_hosts[i] + (nint)(gpa - _starts[i])), piece));
            source = source[piece..];
            gpa += (ulong)piece;
        }
        return true;
    }

    /// <summary>
    /// Translates an address in QEMU's virtual address space (SET_VRING_ADDR) to a host address; the whole
    /// range must lie in one region, as a ring is one contiguous allocation.
    /// </summary>
    public bool TryTranslateUserAddr(ulong qemuVa, ulong length, out nint host)
    {
        host = 0;
        if (_disposed)
        {
            return false;
        }
        // Rings are translated once per SET_VRING_ADDR: a linear scan is enough.
        foreach (var r in _regions)
        {
            if (qemuVa >= r.UserAddr && qemuVa - r.UserAddr < r.Size)
            {
                var offset = qemuVa - r.UserAddr;
                if (length > r.Size - offset)
                {
                    return false;
                }
                host = r.HostStart + (nint)offset;
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Marks the table dead (later translations fail) and runs the release action once. The owner must have
    /// paused every thread that may still hold pointers or chains into it: a translation that already
    /// happened cannot be revoked, and touching it after munmap would fault.
    /// </summary>
    public void Dispose()
    {
        _disposed = true;
        Interlocked.Exchange(ref _release, null)?.Invoke();
    }

    private int Find(ulong gpa)
    {
        // The last region starting at or below gpa is the only one that can hold it (regions do not overlap).
        int lo = 0, hi = _starts.Length - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_starts[mid] <= gpa)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return found >= 0 && gpa < _ends[found] ? found : -1;
    }

    private static string? Validate(ReadOnlySpan<GuestMemoryRegion> regions, out GuestMemoryRegion[] sorted)
    {
        sorted = regions.ToArray();
        if (sorted.Length > MaxRegions)
        {
            return $"{sorted.Length} regions, more than {MaxRegions}";
        }
        foreach (var r in sorted)
        {
            if (r.Size == 0)
            {
                return $"region at 0x{r.GuestPhysAddr:x} has size 0";
            }
            if (r.Size > ulong.MaxValue - r.GuestPhysAddr || r.Size > ulong.MaxValue - r.UserAddr)
            {
                return $"region at 0x{r.GuestPhysAddr:x} wraps around the address space";
            }
            if (r.MappedBase == 0)
            {
                return $"region at 0x{r.GuestPhysAddr:x} is not mapped";
            }
            // The mapping must end inside the positive host address space so pointer arithmetic never wraps.
            var mapped = (ulong)r.MappedBase;
            if (r.MmapOffset > long.MaxValue || r.Size > long.MaxValue - r.MmapOffset
                || mapped > long.MaxValue - r.MmapOffset - r.Size)
            {
                return $"region at 0x{r.GuestPhysAddr:x} does not fit its mapping";
            }
        }
        Array.Sort(sorted, (a, b) => a.GuestPhysAddr.CompareTo(b.GuestPhysAddr));
        for (var i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].GuestPhysAddr - sorted[i - 1].GuestPhysAddr < sorted[i - 1].Size)
            {
                return $"regions at 0x{sorted[i - 1].GuestPhysAddr:x} and 0x{sorted[i].GuestPhysAddr:x} overlap";
            }
        }
        return null;
    }
}
