using System.Runtime.InteropServices;
using CloonixActors.Relay.Memory;

namespace CloonixActors.Relay.Tests.Memory;

public sealed class GuestMemoryTests : IDisposable
{
    private readonly TestGuest _guest = new();

    public void Dispose() => _guest.Dispose();

    [Fact]
    public void Translation_applies_the_region_offset_and_the_mmap_offset()
    {
        var region = _guest.Memory.Regions[1];
        Assert.Equal(TestGuest.Region1, region.GuestPhysAddr);
        Assert.Equal(region.MappedBase + 0x1000, region.HostStart);

        Assert.True(_guest.Memory.TryTranslateAddress(TestGuest.Region1 + 0x123, 16, out var host));
        Assert.Equal(region.HostStart + 0x123, host);
        Assert.True(_guest.Memory.TryTranslate(TestGuest.Region1 + 0x123, 16, out var span));
        Assert.Equal(16, span.Length);
        span.Fill(7);
        Assert.Equal(new byte[] { 7, 7 }, _guest.Read(TestGuest.Region1 + 0x123, 2));
    }

    [Fact]
    public void A_range_ending_exactly_at_the_region_end_translates_one_byte_more_does_not()
    {
        var end = TestGuest.Region2 + TestGuest.Region2Size;
        Assert.True(_guest.Memory.TryTranslate(end - 16, 16, out _));
        Assert.False(_guest.Memory.TryTranslate(end - 16, 17, out _));
        Assert.False(_guest.Memory.TryTranslate(end, 1, out _));
    }

    [Fact]
    public void Unmapped_wrapping_and_oversized_ranges_fail()
    {
        var memory = _guest.Memory;
        Assert.False(memory.TryTranslate(TestGuest.Gap, 1, out _));
        Assert.False(memory.TryTranslate(TestGuest.Gap + 0x10000, 0, out _));
        Assert.False(memory.TryTranslate(ulong.MaxValue - 7, 16, out _));
        Assert.False(memory.TryTranslate(TestGuest.Region2, uint.MaxValue, out _));
        Assert.False(memory.TryTranslateAddress(TestGuest.Region2 + 8, ulong.MaxValue, out _));
        Assert.False(memory.TryGetSegments(ulong.MaxValue - 7, 16, new BufferSegment[4], out _));
        Assert.False(memory.TryGetSegments(TestGuest.Region2, 0x8000_0000, new BufferSegment[4], out _));
        Assert.False(memory.IsMapped(ulong.MaxValue, 2));
    }

    [Fact]
    public void A_single_translation_refuses_to_cross_into_an_adjacent_region_but_segments_follow_it()
    {
        var start = TestGuest.Region1 - 8;
        Assert.False(_guest.Memory.TryTranslate(start, 24, out _));

        var pieces = new BufferSegment[4];
        Assert.True(_guest.Memory.TryGetSegments(start, 24, pieces, out var count));
        Assert.Equal(2, count);
        Assert.Equal(8, pieces[0].Length);
        Assert.Equal(16, pieces[1].Length);
        Assert.Equal(_guest.Memory.Regions[1].HostStart, pieces[1].Address);

        var data = Enumerable.Range(1, 24).Select(i => (byte)i).ToArray();
        _guest.Write(start, data);
        Assert.Equal(data[..8], pieces[0].AsSpan().ToArray());
        Assert.Equal(data[8..], pieces[1].AsSpan().ToArray());
        Assert.Equal(data, _guest.Read(start, 24));
    }

    [Fact]
    public void Segments_fail_when_the_range_runs_into_a_gap_or_the_destination_is_too_short()
    {
        var end = TestGuest.Region1 + TestGuest.Region1Size;
        Assert.False(_guest.Memory.TryGetSegments(end - 8, 16, new BufferSegment[4], out var count));
        Assert.Equal(0, count);
        Assert.False(_guest.Memory.TryGetSegments(TestGuest.Region1 - 8, 16, new BufferSegment[1], out _));
        Assert.False(_guest.Memory.TryRead(end - 8, new byte[16]));
        Assert.False(_guest.Memory.TryWrite(end - 8, new byte[16]));
        Assert.True(_guest.Memory.TryGetSegments(end - 8, 0, [], out count));
        Assert.Equal(0, count);
    }

    [Fact]
    public void User_addresses_translate_within_one_region_only()
    {
        var user = TestGuest.UserOf(TestGuest.Region2 + 0x40);
        Assert.True(_guest.Memory.TryTranslateUserAddr(user, 64, out var host));
        Assert.True(_guest.Memory.TryTranslateAddress(TestGuest.Region2 + 0x40, 64, out var viaGpa));
        Assert.Equal(viaGpa, host);

        var lastUser = TestGuest.UserOf(TestGuest.Region2 + TestGuest.Region2Size - 4);
        Assert.True(_guest.Memory.TryTranslateUserAddr(lastUser, 4, out _));
        Assert.False(_guest.Memory.TryTranslateUserAddr(lastUser, 5, out _));
        Assert.False(_guest.Memory.TryTranslateUserAddr(0x1234, 1, out _));
        Assert.False(_guest.Memory.TryTranslateUserAddr(lastUser, ulong.MaxValue, out _));
    }

    [Fact]
    public unsafe void Inconsistent_tables_are_refused()
    {
        var block = NativeMemory.AlignedAlloc(0x4000, 4096);
        try
        {
            var b = (nint)block;
            Assert.False(GuestMemory.TryCreate([new(0, 0, 0, 0, b)], null, out _, out var error));
            Assert.Contains("size 0", error, StringComparison.Ordinal);
            Assert.False(GuestMemory.TryCreate([new(0, 0x2000, 0, 0, b), new(0x1000, 0x1000, 0x10000, 0, b)], null, out _, out error));
            Assert.Contains("overlap", error, StringComparison.Ordinal);
            Assert.False(GuestMemory.TryCreate([new(ulong.MaxValue - 0x10, 0x1000, 0, 0, b)], null, out _, out _));
            Assert.False(GuestMemory.TryCreate([new(0, 0x1000, 0, 0, 0)], null, out _, out _));
            Assert.False(GuestMemory.TryCreate([new(0, 0x1000, 0, ulong.MaxValue - 0x10, b)], null, out _, out _));
            Assert.Throws<ArgumentException>(() => new GuestMemory([new(0, 0, 0, 0, b)]));

            // Out of order is fine: the table sorts.
            Assert.True(GuestMemory.TryCreate([new(0x2000, 0x1000, 0x2000, 0, b + 0x2000), new(0, 0x1000, 0, 0, b)], null, out var memory, out _));
            Assert.Equal(0UL, memory.Regions[0].GuestPhysAddr);
            Assert.True(memory.TryTranslateAddress(0x2010, 1, out var host));
            Assert.Equal(b + 0x2010, host);
            Assert.False(memory.TryTranslateAddress(0x1000, 1, out _));
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    [Fact]
    public void Dispose_runs_the_release_hook_once_and_translations_stop()
    {
        var released = 0;
        using var native = NativeGuestMemory.Allocate([new(0, 0x1000, 0x1000)]);
        var memory = new GuestMemory(native.Memory.Regions, () => released++);
        Assert.True(memory.TryTranslate(0x10, 1, out _));
        memory.Dispose();
        memory.Dispose();
        Assert.Equal(1, released);
        Assert.True(memory.IsDisposed);
        Assert.False(memory.TryTranslate(0x10, 1, out _));
        Assert.False(memory.TryGetSegments(0x10, 1, new BufferSegment[1], out _));
        Assert.False(memory.TryTranslateUserAddr(0x1010, 1, out _));
    }

    [Fact]
    public void Empty_memory_translates_nothing()
    {
        Assert.Equal(0, GuestMemory.Empty.Regions.Length);
        Assert.False(GuestMemory.Empty.TryTranslate(0, 1, out _));
        Assert.False(GuestMemory.Empty.TryGetSegments(0, 1, new BufferSegment[1], out _));
    }

    [Fact]
    public void Guards_detect_a_write_before_a_region_or_into_its_mmap_offset()
    {
        Assert.True(_guest.Native.GuardsIntact());
        _guest.Native.GetSpan(TestGuest.Region2 + TestGuest.Region2Size - 1, 1)[0] = 1;
        Assert.True(_guest.Native.GuardsIntact());

        unsafe
        {
            // The byte just before region 1 lies in its mmap offset area: part of the mapping, not of the region.
            var before = (byte*)_guest.Memory.Regions[1].HostStart - 1;
            *before = 0;
            Assert.False(_guest.Native.GuardsIntact());
            *before = NativeGuestMemory.DefaultCanary;
            Assert.True(_guest.Native.GuardsIntact());
            var after = (byte*)_guest.Memory.Regions[2].HostStart + (nint)TestGuest.Region2Size;
            *after = 0;
            Assert.False(_guest.Native.GuardsIntact());
            *after = NativeGuestMemory.DefaultCanary;
        }
    }
}
