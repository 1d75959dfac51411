using System.Runtime.InteropServices;

namespace CloonixActors.Relay.Memory;

/// <summary>Where a region of <see cref="NativeGuestMemory"/> sits in the guest-physical and QEMU-virtual spaces.</summary>
public readonly record struct NativeRegionLayout(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset = 0);

/// <summary>
/// Guest memory backed by native heap allocations instead of QEMU's fds: for tests, fuzzing and benchmarks
/// that drive rings without a VM. Each region can be surrounded by guard bytes holding a canary, and the
/// MmapOffset bytes before the region (part of the "mapping" but not of the region) hold it too, so a
/// stray access outside a region is detected by <see cref="GuardsIntact"/>.
/// </summary>
public sealed unsafe class NativeGuestMemory : IDisposable
{
    public const byte DefaultCanary = 0xA5;

    private readonly Allocation[] _allocations;
    private readonly byte _canary;

    private NativeGuestMemory(Allocation[] allocations, byte canary, GuestMemory memory)
    {
        _allocations = allocations;
        _canary = canary;
        Memory = memory;
    }

    /// <summary>The translation table over the allocations; disposing it frees them.</summary>
    public GuestMemory Memory { get; }

    /// <summary>Allocates zeroed regions, each with <paramref name="guardBytes"/> of canary before and after.</summary>
    public static NativeGuestMemory Allocate(ReadOnlySpan<NativeRegionLayout> layouts, int guardBytes = 0, byte canary = DefaultCanary)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(guardBytes);
        foreach (var l in layouts)
        {
            // The canary spans are indexed by int: keep offsets in range (this is a test and benchmark helper).
            ArgumentOutOfRangeException.ThrowIfGreaterThan(l.MmapOffset, (ulong)(int.MaxValue - guardBytes), nameof(layouts));
        }
        var allocations = new Allocation[layouts.Length];
        var regions = new GuestMemoryRegion[layouts.Length];
        var made = 0;
        try
        {
            for (; made < layouts.Length; made++)
            {
                var l = layouts[made];
                var total = (nuint)guardBytes + (nuint)l.MmapOffset + (nuint)l.Size + (nuint)guardBytes;
                var block = (byte*)NativeMemory.AlignedAlloc(total, 4096);
                new Span<byte>(block, guardBytes + (int)l.MmapOffset).Fill(canary);
                NativeMemory.Clear(block + guardBytes + l.MmapOffset, (nuint)l.Size);
                new Span<byte>(block + guardBytes + l.MmapOffset + l.Size, guardBytes).Fill(canary);
                allocations[made] = new Allocation((nint)block, guardBytes, l.MmapOffset, l.Size);
                regions[made] = new GuestMemoryRegion(l.GuestPhysAddr, l.Size, l.UserAddr, l.MmapOffset, (nint)(block + guardBytes));
            }
            var memory = new GuestMemory(regions, () =>
            {
                foreach (var a in allocations)
                {
                    NativeMemory.AlignedFree((void*)a.Block);
                }
            });
            return new NativeGuestMemory(allocations, canary, memory);
        }
        catch
        {
            for (var i = 0; i < made; i++)
            {
                NativeMemory.AlignedFree((void*)allocations[i].Block);
            }
            throw;
        }
    }

    /// <summary>Whether every guard byte and every MmapOffset byte still holds the canary.</summary>
    public bool GuardsIntact()
    {
        ObjectDisposedException.ThrowIf(Memory.IsDisposed, this);
        foreach (var a in _allocations)
        {
            var block = (byte*)a.Block;
            var before = new ReadOnlySpan<byte>(block, a.Guard + (int)a.MmapOffset);
            var after = new ReadOnlySpan<byte>(block + a.Guard + a.MmapOffset + a.Size, a.Guard);
            if (before.ContainsAnyExcept(_canary) || after.ContainsAnyExcept(_canary))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Direct access for a test playing the driver: the range must lie in one region, or this throws.</summary>
    public Span<byte> GetSpan(ulong gpa, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return Memory.TryTranslate(gpa, (uint)length, out var span)
            ? span
            : throw new ArgumentOutOfRangeException(nameof(gpa), $"0x{gpa:x}+{length} is not inside one region");
    }

    public void Dispose() => Memory.Dispose();

    private readonly record struct Allocation(nint Block, int Guard, ulong MmapOffset, ulong Size);
}
