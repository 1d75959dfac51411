using System.Globalization;
using System.Runtime.InteropServices;

namespace CloonixActors.Relay.VhostUser;

/// <summary>
/// One SET_MEM_TABLE region mapped into this process. <see cref="Base"/> is what mmap returned for
/// <see cref="MappedLength"/> bytes from file offset 0 (<c>Size + MmapOffset</c>, rounded up to the
/// file's block size: hugetlbfs mappings must be whole huge pages); the region's first byte is at
/// <see cref="Host"/>.
/// </summary>
public sealed record MappedRegion(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset, nint Base, ulong MappedLength)
{
    /// <summary>Host address of guest-physical <see cref="GuestPhysAddr"/> (and of QEMU's <see cref="UserAddr"/>).</summary>
    public nint Host => Base + (nint)MmapOffset;
}

/// <summary>
/// The guest memory of one SET_MEM_TABLE, mapped (MAP_SHARED, read-write). Disposing unmaps it: the
/// back-end does so only after the data path has let go of it (see <see cref="VhostUserBackend.DataPathGate"/>).
/// Translations check that the whole [address, address + length) range lies inside one region, so a
/// pointer handed out is valid for that length; a buffer that crosses regions must be split by the caller.
/// </summary>
public sealed class MemoryTable : IDisposable
{
    private readonly MappedRegion[] _regions;
    private int _disposed;

    private MemoryTable(MappedRegion[] regions)
    {
        _regions = regions;
    }

    public IReadOnlyList<MappedRegion> Regions => _regions;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Validates and maps the regions with their descriptors (one each, same order). The descriptors are
    /// not closed here (the caller closes them, mapped or not: a mapping does not need its descriptor).
    /// On any failure everything mapped so far is unmapped and a (non-fatal) protocol exception thrown.
    /// </summary>
    public static MemoryTable Map(ReadOnlySpan<MemoryRegionDescription> regions, ReadOnlySpan<int> fds)
    {
        if (regions.Length != fds.Length)
        {
            throw new VhostUserProtocolException($"{regions.Length} memory regions but {fds.Length} descriptors");
        }

        Validate(regions);
        var mapped = new List<MappedRegion>(regions.Length);
        try
        {
            for (var i = 0; i < regions.Length; i++)
            {
                var region = regions[i];
                var length = region.Size + region.MmapOffset;

                // Touching a mapping beyond the end of its file raises SIGBUS, which would kill the whole
                // process: a region must lie within the file it is mapped from.
                if (!LibC.TryGetFileInfo(fds[i], out var fileSize, out var blockSize))
                {
                    throw new VhostUserProtocolException($"memory region {i}: fstat of its descriptor failed (errno {Marshal.GetLastPInvokeError()})");
                }

                if (fileSize < 0 || (ulong)fileSize < length)
                {
                    throw new VhostUserProtocolException(
                        $"memory region {i} needs {length} bytes of its file, which has {fileSize.ToString(CultureInfo.InvariantCulture)}");
                }

                var mappedLength = AlignUp(length, MappingAlignment(blockSize));
                var address = LibC.Mmap(0, (nuint)mappedLength, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fds[i], 0);
                if (address == LibC.MapFailed)
                {
                    throw new VhostUserProtocolException(
                        $"mmap of region {i} ({mappedLength} bytes, fd {fds[i]}) failed (errno {Marshal.GetLastPInvokeError()})");
                }

                mapped.Add(new MappedRegion(region.GuestPhysAddr, region.Size, region.UserAddr, region.MmapOffset, address, mappedLength));
            }
        }
        catch
        {
            foreach (var region in mapped)
            {
                _ = LibC.Munmap(region.Base, (nuint)region.MappedLength);
            }

            throw;
        }

        return new MemoryTable([.. mapped]);
    }

    /// <summary>Host pointer for QEMU virtual address range [userAddr, userAddr + length) (ring addresses).</summary>
    public bool TryTranslateUser(ulong userAddr, ulong length, out nint host)
    {
        foreach (var region in _regions)
        {
            if (Contains(region.UserAddr, region.Size, userAddr, length))
            {
                host = region.Host + (nint)(userAddr - region.UserAddr);
                return true;
            }
        }

        host = 0;
        return false;
    }

    /// <summary>Host pointer for guest-physical range [guestPhysAddr, guestPhysAddr + length) (descriptor buffers).</summary>
    public bool TryTranslateGuest(ulong guestPhysAddr, ulong length, out nint host)
    {
        foreach (var region in _regions)
        {
            if (Contains(region.GuestPhysAddr, region.Size, guestPhysAddr, length))
            {
                host = region.Host + (nint)(guestPhysAddr - region.GuestPhysAddr);
                return true;
            }
        }

        host = 0;
        return false;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var region in _regions)
        {
            _ = LibC.Munmap(region.Base, (nuint)region.MappedLength);
        }
    }

    /// <summary>
    /// What a mapping's length is rounded to: the file's block size when it is a larger power of two (the
    /// huge page size of a hugetlbfs file or MFD_HUGETLB memfd, up to 1 GiB), else the page size.
    /// </summary>
    private static ulong MappingAlignment(int blockSize)
    {
        var page = (ulong)Environment.SystemPageSize;
        var block = (ulong)(uint)blockSize;
        return block > page && block <= (1UL << 30) && ulong.IsPow2(block) ? block : page;
    }

    private static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);

    /// <summary>[address, address + length) inside [start, start + size), written so nothing can overflow.</summary>
    private static bool Contains(ulong start, ulong size, ulong address, ulong length) =>
        address >= start && address - start <= size && length <= size - (address - start);

    /// <summary>
    /// Rejects what would make translation ambiguous or a mapping absurd: empty regions, ranges that wrap
    /// around 2^64, a mapping larger than the address space, overlapping guest or user ranges.
    /// </summary>
    private static void Validate(ReadOnlySpan<MemoryRegionDescription> regions)
    {
        // 2^47: the user half of an x86-64 (4-level) address space; no guest RAM region can be larger.
        const ulong MaxMapping = 1UL << 47;
        for (var i = 0; i < regions.Length; i++)
        {
            var r = regions[i];
            if (r.Size == 0)
            {
                throw new VhostUserProtocolException($"memory region {i} is empty");
            }

            if (r.Size > MaxMapping || r.MmapOffset > MaxMapping - r.Size)
            {
                throw new VhostUserProtocolException($"memory region {i}: size 0x{r.Size:x} + offset 0x{r.MmapOffset:x} is too large to map");
            }

            if (r.GuestPhysAddr > ulong.MaxValue - r.Size || r.UserAddr > ulong.MaxValue - r.Size)
            {
                throw new VhostUserProtocolException($"memory region {i} wraps around the address space");
            }

            for (var j = 0; j < i; j++)
            {
                var o = regions[j];
                if (Overlaps(r.GuestPhysAddr, r.Size, o.GuestPhysAddr, o.Size) || Overlaps(r.UserAddr, r.Size, o.UserAddr, o.Size))
                {
                    throw new VhostUserProtocolException($"memory regions {j} and {i} overlap");
                }
            }
        }
    }

    private static bool Overlaps(ulong a, ulong aSize, ulong b, ulong bSize) => a < b + bSize && b < a + aSize;
}
