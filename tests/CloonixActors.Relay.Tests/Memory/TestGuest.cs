using System.Buffers.Binary;
using CloonixActors.Relay.Memory;

namespace CloonixActors.Relay.Tests.Memory;

/// <summary>
/// A fake guest laid out like QEMU's tables: two adjacent regions (low RAM split in two, as QEMU does
/// around 0xc0000) and a third after a gap, each with its own QEMU virtual address and mmap offset, and
/// canary guards around every region. Rings go in region 1, buffers in region 2.
/// </summary>
internal sealed class TestGuest : IDisposable
{
    public const ulong Region0 = 0x0;
    public const ulong Region0Size = 0x10000;
    public const ulong Region1 = 0x10000;
    public const ulong Region1Size = 0xF0000;
    public const ulong Gap = 0x100000;
    public const ulong Region2 = 0x200000;
    public const ulong Region2Size = 0x100000;
    public const int GuardBytes = 4096;

    private static readonly NativeRegionLayout[] Layouts =
    [
        new(Region0, Region0Size, 0x7F00_0000_0000, 0),
        new(Region1, Region1Size, 0x7F00_1000_0000, 0x1000),
        new(Region2, Region2Size, 0x7F00_2000_0000, 0x200),
    ];

    // Rings start one page into region 1 so tests can put buffers across the region 0/1 boundary.
    private ulong _nextRing = Region1 + 0x1000;
    private ulong _nextBuffer = Region2;

    public TestGuest() => Native = NativeGuestMemory.Allocate(Layouts, GuardBytes);

    public NativeGuestMemory Native { get; }

    public GuestMemory Memory => Native.Memory;

    /// <summary>QEMU's virtual address of a guest-physical one, as SET_VRING_ADDR would carry it.</summary>
    public static ulong UserOf(ulong gpa)
    {
        foreach (var l in Layouts)
        {
            if (gpa >= l.GuestPhysAddr && gpa - l.GuestPhysAddr < l.Size)
            {
                return l.UserAddr + (gpa - l.GuestPhysAddr);
            }
        }
        throw new ArgumentOutOfRangeException(nameof(gpa));
    }

    /// <summary>Reserves guest-physical space for a ring in region 1 (page aligned, as drivers allocate rings).</summary>
    public ulong AllocRing(int bytes)
    {
        var at = _nextRing;
        _nextRing = (at + (ulong)bytes + 4095) & ~4095UL;
        if (_nextRing > Region1 + Region1Size)
        {
            throw new InvalidOperationException("region 1 is full");
        }
        return at;
    }

    /// <summary>Reserves a buffer in region 2.</summary>
    public ulong AllocBuffer(int bytes)
    {
        var at = _nextBuffer;
        _nextBuffer = (at + (ulong)bytes + 15) & ~15UL;
        if (_nextBuffer > Region2 + Region2Size)
        {
            throw new InvalidOperationException("region 2 is full");
        }
        return at;
    }

    public ulong AllocBuffer(ReadOnlySpan<byte> content)
    {
        var at = AllocBuffer(content.Length);
        Write(at, content);
        return at;
    }

    public void Write(ulong gpa, ReadOnlySpan<byte> data)
    {
        if (!Memory.TryWrite(gpa, data))
        {
            throw new ArgumentOutOfRangeException(nameof(gpa));
        }
    }

    public byte[] Read(ulong gpa, int length)
    {
        var data = new byte[length];
        if (!Memory.TryRead(gpa, data))
        {
            throw new ArgumentOutOfRangeException(nameof(gpa));
        }
        return data;
    }

    public void WriteU16(ulong gpa, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Native.GetSpan(gpa, 2), value);

    public ushort ReadU16(ulong gpa) => BinaryPrimitives.ReadUInt16LittleEndian(Native.GetSpan(gpa, 2));

    public void WriteU32(ulong gpa, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Native.GetSpan(gpa, 4), value);

    public uint ReadU32(ulong gpa) => BinaryPrimitives.ReadUInt32LittleEndian(Native.GetSpan(gpa, 4));

    public void WriteU64(ulong gpa, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Native.GetSpan(gpa, 8), value);

    public void Dispose() => Native.Dispose();
}
