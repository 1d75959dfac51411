using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Relay.Tests.VhostUser;

public sealed class MemoryTableTests
{
    [Fact]
    public unsafe void Regions_are_mapped_shared_and_translate_both_address_kinds()
    {
        using var memory = new FakeGuestMemory();

        using (var table = MemoryTable.Map(memory.Regions, [memory.Fd, memory.Fd]))
        {
            Assert.Equal(2, table.Regions.Count);
            *(ulong*)memory.Host(memory.Regions[1].UserAddr + 8) = 0xfeed;
            Assert.True(table.TryTranslateUser(memory.Regions[1].UserAddr + 8, 8, out var byUser));
            Assert.True(table.TryTranslateGuest(memory.Regions[1].GuestPhysAddr + 8, 8, out var byGuest));
            Assert.Equal(byUser, byGuest);
            Assert.Equal(0xfeedUL, *(ulong*)byUser);

            // A range must lie inside one region; nothing wraps around.
            Assert.True(table.TryTranslateGuest(memory.Regions[0].GuestPhysAddr + memory.Regions[0].Size - 8, 8, out _));
            Assert.False(table.TryTranslateGuest(memory.Regions[0].GuestPhysAddr + memory.Regions[0].Size - 8, 9, out _));
            Assert.False(table.TryTranslateGuest(0x90000, 1, out _));
            Assert.False(table.TryTranslateGuest(ulong.MaxValue, 2, out _));
            Assert.False(table.TryTranslateUser(memory.Regions[0].UserAddr + 8, ulong.MaxValue, out _));
            table.Dispose();
            Assert.True(table.IsDisposed);
        }
    }

    [Fact]
    public void Huge_page_regions_are_mapped_with_a_length_rounded_to_the_huge_page()
    {
        const long HugePage = 2 << 20;
        var fd = TestNative.CreateHugeMemfd(2 * HugePage);
        Assert.True(fd >= 0, "this machine has free 2 MiB huge pages; memfd_create(MFD_HUGETLB) must work");
        try
        {
            // DPDK shares hugepage files with offsets; size + offset is not a multiple of the huge page.
            MemoryRegionDescription[] regions = [new(0x0, 0x100000, 0x7f00_0000_0000, HugePage)];

            using var table = MemoryTable.Map(regions, [fd]);

            Assert.Equal((ulong)(2 * HugePage), table.Regions[0].MappedLength);
            Assert.True(table.TryTranslateGuest(0xff000, 0x1000, out var host));
            Assert.Equal(table.Regions[0].Base + (nint)HugePage + 0xff000, host);
        }
        finally
        {
            LibC.CloseFd(fd);
        }
    }
}
