using CloonixActors.Relay.Tests.Memory;
using CloonixActors.Relay.Virtio;

namespace CloonixActors.Relay.Tests.Virtio;

public sealed class SplitVirtqueueTests : IDisposable
{
    private const ulong EventIdx = 1UL << VirtioFeatures.RingEventIdx;
    private const ulong IndirectDesc = 1UL << VirtioFeatures.RingIndirectDesc;

    private readonly TestGuest _guest = new();
    private readonly DescriptorChain _chain = new();

    public void Dispose()
    {
        Assert.True(_guest.Native.GuardsIntact());
        _guest.Dispose();
    }

    [Fact]
    public void An_empty_ring_pops_nothing()
    {
        var ring = new TestRing(_guest, 8);
        var queue = ring.CreateQueue();
        Assert.Equal(PopResult.Empty, queue.TryPop(_chain));
        Assert.Equal(0, queue.AvailableCount());
        Assert.Equal(0, queue.Stats.TotalErrors);
    }

    [Fact]
    public void A_chain_of_readable_then_writable_buffers_pops_with_its_bytes()
    {
        var ring = new TestRing(_guest, 8);
        var out1 = _guest.AllocBuffer([1, 2, 3]);
        var out2 = _guest.AllocBuffer([4, 5]);
        var in1 = _guest.AllocBuffer(4);
        var in2 = _guest.AllocBuffer(6);
        ring.SetDesc(5, out1, 3, TestRing.Next, 2);
        ring.SetDesc(2, out2, 2, TestRing.Next, 7);
        ring.SetDesc(7, in1, 4, TestRing.Write | TestRing.Next, 0);
        ring.SetDesc(0, in2, 6, TestRing.Write);
        ring.Offer(5);
        var queue = ring.CreateQueue();

        Assert.Equal(1, queue.AvailableCount());
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(5, _chain.Head);
        Assert.Equal(4, _chain.DescriptorCount);
        Assert.Equal(5, _chain.ReadableLength);
        Assert.Equal(10, _chain.WritableLength);
        Assert.Equal(2, _chain.ReadableSegments.Length);
        Assert.Equal(2, _chain.WritableSegments.Length);
        var frame = new byte[8];
        Assert.Equal(5, _chain.CopyFromReadable(0, frame));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, frame[..5]);
        Assert.Equal(2, _chain.CopyFromReadable(3, frame));
        Assert.Equal(new byte[] { 4, 5 }, frame[..2]);

        Assert.Equal(10, _chain.CopyToWritable(0, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]));
        Assert.Equal(new byte[] { 10, 11, 12, 13 }, _guest.Read(in1, 4));
        Assert.Equal(new byte[] { 14, 15, 16, 17, 18, 19 }, _guest.Read(in2, 6));
        Assert.Equal(2, _chain.CopyToWritable(8, [30, 31, 32]));
        Assert.Equal(new byte[] { 30, 31 }, _guest.Read(in2 + 4, 2));
        Assert.Equal(PopResult.Empty, queue.TryPop(_chain));
        Assert.Equal(1, queue.Stats.Popped);
    }

    [Fact]
    public void A_buffer_straddling_two_adjacent_regions_pops_as_two_segments()
    {
        var ring = new TestRing(_guest, 8);
        var at = TestGuest.Region1 - 6;
        _guest.Write(at, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        ring.SetDesc(0, at, 10);
        ring.Offer(0);
        var queue = ring.CreateQueue();

        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(2, _chain.Segments.Length);
        Assert.Equal(1, _chain.DescriptorCount);
        var frame = new byte[10];
        Assert.Equal(10, _chain.CopyFromReadable(0, frame));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, frame);
    }

    [Fact]
    public void Push_writes_the_used_element_then_publishes_the_index()
    {
        var ring = new TestRing(_guest, 4);
        var buffer = _guest.AllocBuffer(64);
        ring.SetDesc(3, buffer, 64, TestRing.Write);
        ring.Offer(3);
        var queue = ring.CreateQueue();
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));

        queue.AddUsed(_chain.Head, 42);
        Assert.Equal(0, ring.UsedIdx);
        Assert.Equal((3u, 42u), ring.UsedAt(0));
        queue.FlushUsed();
        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal(1, queue.LastUsedIdx);

        queue.Push(3, 7);
        Assert.Equal(2, ring.UsedIdx);
        Assert.Equal((3u, 7u), ring.UsedAt(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => queue.Push(4, 0));
    }

    [Fact]
    public void Indices_wrap_around_sixteen_bits()
    {
        var ring = new TestRing(_guest, 4);
        var buffer = _guest.AllocBuffer(16);
        for (var i = 0; i < 4; i++)
        {
            ring.SetDesc(i, buffer, 16);
        }
        ring.AvailIdx = 65534;
        ring.UsedIdx = 65534;
        var queue = ring.CreateQueue(lastAvailIdx: 65534);
        Assert.Equal(65534, queue.LastUsedIdx);

        for (var round = 0; round < 3; round++)
        {
            for (ushort i = 0; i < 4; i++)
            {
                ring.Offer(i);
            }
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
                Assert.Equal(i, _chain.Head);
                queue.AddUsed(_chain.Head, 0);
            }
            queue.FlushUsed();
            Assert.Equal(PopResult.Empty, queue.TryPop(_chain));
        }
        Assert.Equal(10, queue.LastAvailIdx);
        Assert.Equal(10, ring.UsedIdx);
    }

    [Fact]
    public void GetBase_and_SetBase_carry_last_avail_idx()
    {
        var ring = new TestRing(_guest, 8);
        var buffer = _guest.AllocBuffer(16);
        ring.SetDesc(0, buffer, 16);
        ring.Offer(0);
        ring.Offer(0);
        var queue = ring.CreateQueue();
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(1, queue.GetBase());

        var restarted = ring.CreateQueue(lastAvailIdx: queue.GetBase());
        Assert.Equal(PopResult.Ok, restarted.TryPop(_chain));
        Assert.Equal(PopResult.Empty, restarted.TryPop(_chain));

        restarted.SetBase(0);
        Assert.Equal(2, restarted.AvailableCount());
        Assert.Equal(PopResult.Ok, restarted.TryPop(_chain));
    }

    [Fact]
    public void An_indirect_table_pops_as_one_chain()
    {
        var ring = new TestRing(_guest, 8);
        var table = _guest.AllocBuffer(16 * 3);
        var header = _guest.AllocBuffer([9, 9]);
        var data = _guest.AllocBuffer([1, 2, 3]);
        var reply = _guest.AllocBuffer(5);
        ring.WriteDescriptor(table, header, 2, TestRing.Next, 2);
        ring.WriteDescriptor(table + 32, data, 3, TestRing.Next, 1);
        ring.WriteDescriptor(table + 16, reply, 5, TestRing.Write);
        ring.SetDesc(6, table, 48, TestRing.Indirect);
        ring.Offer(6);
        var queue = ring.CreateQueue(IndirectDesc);

        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(6, _chain.Head);
        Assert.Equal(3, _chain.DescriptorCount);
        Assert.Equal(5, _chain.ReadableLength);
        Assert.Equal(5, _chain.WritableLength);
        var frame = new byte[5];
        _chain.CopyFromReadable(0, frame);
        Assert.Equal(new byte[] { 9, 9, 1, 2, 3 }, frame);
    }

    [Fact]
    public void Direct_descriptors_may_lead_to_an_indirect_table()
    {
        var ring = new TestRing(_guest, 8);
        var table = _guest.AllocBuffer(16);
        var first = _guest.AllocBuffer([1]);
        var second = _guest.AllocBuffer([2]);
        ring.WriteDescriptor(table, second, 1);
        ring.SetDesc(0, first, 1, TestRing.Next, 1);
        ring.SetDesc(1, table, 16, TestRing.Indirect);
        ring.Offer(0);
        var queue = ring.CreateQueue(IndirectDesc);

        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        var frame = new byte[2];
        _chain.CopyFromReadable(0, frame);
        Assert.Equal(new byte[] { 1, 2 }, frame);
    }

    [Fact]
    public void An_indirect_table_straddling_adjacent_regions_is_read_entry_by_entry()
    {
        var ring = new TestRing(_guest, 8);
        var table = TestGuest.Region1 - 24;
        var a = _guest.AllocBuffer([1, 2]);
        var b = _guest.AllocBuffer([3]);
        ring.WriteDescriptor(table, a, 2, TestRing.Next, 1);
        ring.WriteDescriptor(table + 16, b, 1);
        ring.SetDesc(0, table, 32, TestRing.Indirect);
        ring.Offer(0);
        var queue = ring.CreateQueue(IndirectDesc);

        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        var frame = new byte[3];
        _chain.CopyFromReadable(0, frame);
        Assert.Equal(new byte[] { 1, 2, 3 }, frame);
    }

    public static TheoryData<string, PopResult> MalformedChains => new()
    {
        { "next out of range", PopResult.NextOutOfRange },
        { "loop back to the head", PopResult.ChainTooLong },
        { "self loop", PopResult.ChainTooLong },
        { "loop through all other descriptors", PopResult.ChainTooLong },
        { "zero length", PopResult.ZeroLengthBuffer },
        { "length 0xffffffff", PopResult.ChainTooLarge },
        { "length int.MaxValue", PopResult.BufferUnmapped },
        { "address in no region", PopResult.BufferUnmapped },
        { "address wrapping the space", PopResult.BufferUnmapped },
        { "crossing the end of a region into a gap", PopResult.BufferUnmapped },
        { "crossing the end of the last region", PopResult.BufferUnmapped },
        { "readable after writable", PopResult.ReadableAfterWritable },
        { "indirect not negotiated", PopResult.IndirectNotNegotiated },
        { "indirect with next", PopResult.IndirectWithNext },
        { "indirect length 0", PopResult.IndirectBadLength },
        { "indirect length 24", PopResult.IndirectBadLength },
        { "indirect longer than the queue", PopResult.IndirectBadLength },
        { "indirect table unmapped", PopResult.IndirectTableUnmapped },
        { "indirect table crossing into a gap", PopResult.IndirectTableUnmapped },
        { "nested indirect", PopResult.NestedIndirect },
        { "indirect next out of range", PopResult.NextOutOfRange },
        { "indirect loop", PopResult.ChainTooLong },
        { "indirect zero length entry", PopResult.ZeroLengthBuffer },
        { "indirect entry unmapped", PopResult.BufferUnmapped },
    };

    [Theory]
    [MemberData(nameof(MalformedChains))]
    public void A_malformed_chain_fails_cleanly_is_returned_empty_and_the_next_one_pops(string name, PopResult expected)
    {
        const int size = 8;
        var ring = new TestRing(_guest, size);
        var good = _guest.AllocBuffer(64);
        var table = _guest.AllocBuffer(16 * 4);
        var features = name == "indirect not negotiated" ? 0 : IndirectDesc;
        var lastRegionEnd = TestGuest.Region2 + TestGuest.Region2Size;
        switch (name)
        {
            case "next out of range":
                ring.SetDesc(0, good, 4, TestRing.Next, size);
                break;
            case "loop back to the head":
                ring.SetDesc(0, good, 4, TestRing.Next, 1);
                ring.SetDesc(1, good, 4, TestRing.Next, 0);
                break;
            case "self loop":
                ring.SetDesc(0, good, 4, TestRing.Next, 0);
                break;
            case "loop through all other descriptors":
                for (var i = 0; i < size - 1; i++)
                {
                    ring.SetDesc(i, good, 1, TestRing.Next, (ushort)((i + 1) % (size - 1)));
                }
                break;
            case "zero length":
                ring.SetDesc(0, good, 4, TestRing.Next, 1);
                ring.SetDesc(1, good, 0);
                break;
            case "length 0xffffffff":
                ring.SetDesc(0, good, uint.MaxValue);
                break;
            case "length int.MaxValue":
                ring.SetDesc(0, good, int.MaxValue);
                break;
            case "address in no region":
                ring.SetDesc(0, TestGuest.Gap + 0x100, 4);
                break;
            case "address wrapping the space":
                ring.SetDesc(0, ulong.MaxValue - 3, 16);
                break;
            case "crossing the end of a region into a gap":
                ring.SetDesc(0, TestGuest.Gap - 8, 16);
                break;
            case "crossing the end of the last region":
                ring.SetDesc(0, lastRegionEnd - 1, 2);
                break;
            case "readable after writable":
                ring.SetDesc(0, good, 4, TestRing.Write | TestRing.Next, 1);
                ring.SetDesc(1, good, 4);
                break;
            case "indirect not negotiated":
                ring.WriteDescriptor(table, good, 4);
                ring.SetDesc(0, table, 16, TestRing.Indirect);
                break;
            case "indirect with next":
                ring.WriteDescriptor(table, good, 4);
                ring.SetDesc(0, table, 16, TestRing.Indirect | TestRing.Next, 1);
                ring.SetDesc(1, good, 4);
                break;
            case "indirect length 0":
                ring.SetDesc(0, table, 0, TestRing.Indirect);
                break;
            case "indirect length 24":
                ring.SetDesc(0, table, 24, TestRing.Indirect);
                break;
            case "indirect longer than the queue":
                ring.SetDesc(0, table, 16 * (size + 1), TestRing.Indirect);
                break;
            case "indirect table unmapped":
                ring.SetDesc(0, TestGuest.Gap, 32, TestRing.Indirect);
                break;
            case "indirect table crossing into a gap":
                ring.SetDesc(0, TestGuest.Gap - 16, 32, TestRing.Indirect);
                break;
            case "nested indirect":
                ring.WriteDescriptor(table, good, 4, TestRing.Next, 1);
                ring.WriteDescriptor(table + 16, table, 16, TestRing.Indirect);
                ring.SetDesc(0, table, 32, TestRing.Indirect);
                break;
            case "indirect next out of range":
                ring.WriteDescriptor(table, good, 4, TestRing.Next, 2);
                ring.WriteDescriptor(table + 16, good, 4);
                ring.SetDesc(0, table, 32, TestRing.Indirect);
                break;
            case "indirect loop":
                ring.WriteDescriptor(table, good, 4, TestRing.Next, 1);
                ring.WriteDescriptor(table + 16, good, 4, TestRing.Next, 0);
                ring.SetDesc(0, table, 32, TestRing.Indirect);
                break;
            case "indirect zero length entry":
                ring.WriteDescriptor(table, good, 0);
                ring.SetDesc(0, table, 16, TestRing.Indirect);
                break;
            case "indirect entry unmapped":
                ring.WriteDescriptor(table, TestGuest.Gap, 4);
                ring.SetDesc(0, table, 16, TestRing.Indirect);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name);
        }
        // A good chain behind the bad one: the queue must keep working.
        ring.SetDesc(size - 1, good, 64);
        ring.Offer(0);
        ring.Offer(size - 1);
        var queue = ring.CreateQueue(features);

        Assert.Equal(expected, queue.TryPop(_chain));
        Assert.Equal(1, queue.Stats.Errors(expected));
        Assert.Equal(1, queue.Stats.TotalErrors);
        Assert.Equal(0, _chain.Segments.Length);
        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal((0u, 0u), ring.UsedAt(0));

        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(size - 1, _chain.Head);
        Assert.Equal(64, _chain.ReadableLength);
        Assert.Equal(PopResult.Empty, queue.TryPop(_chain));
    }

    [Fact]
    public void A_head_out_of_range_is_consumed_but_not_returned()
    {
        var ring = new TestRing(_guest, 8);
        var good = _guest.AllocBuffer(16);
        ring.SetDesc(1, good, 16);
        ring.Offer(8);
        ring.Offer(ushort.MaxValue);
        ring.Offer(1);
        var queue = ring.CreateQueue();

        Assert.Equal(PopResult.HeadOutOfRange, queue.TryPop(_chain));
        Assert.Equal(PopResult.HeadOutOfRange, queue.TryPop(_chain));
        Assert.Equal(0, ring.UsedIdx);
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(1, _chain.Head);
        Assert.Equal(2, queue.Stats.Errors(PopResult.HeadOutOfRange));
    }

    [Fact]
    public void An_avail_index_jumping_more_than_the_size_ahead_breaks_the_queue_until_SetBase()
    {
        var ring = new TestRing(_guest, 8);
        var good = _guest.AllocBuffer(16);
        ring.SetDesc(0, good, 16);
        ring.AvailIdx = 9;
        var queue = ring.CreateQueue();

        Assert.Equal(PopResult.AvailIndexOutOfRange, queue.TryPop(_chain));
        Assert.True(queue.IsBroken);
        Assert.Equal(PopResult.AvailIndexOutOfRange, queue.TryPop(_chain));
        Assert.Equal(1, queue.Stats.Errors(PopResult.AvailIndexOutOfRange));
        Assert.Equal(0, queue.LastAvailIdx);
        Assert.Equal(0, queue.AvailableCount());

        ring.AvailIdx = 8;
        queue.SetBase(0);
        Assert.False(queue.IsBroken);
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
    }

    [Fact]
    public void An_avail_index_moving_backwards_is_also_out_of_range()
    {
        var ring = new TestRing(_guest, 8);
        ring.AvailIdx = 3;
        var queue = ring.CreateQueue(lastAvailIdx: 5);
        Assert.Equal(PopResult.AvailIndexOutOfRange, queue.TryPop(_chain));
    }

    [Fact]
    public void A_chain_of_more_segments_than_the_cap_fails()
    {
        const int size = 8192;
        var ring = new TestRing(_guest, size);
        var buffer = _guest.AllocBuffer(16);
        for (var i = 0; i < DescriptorChain.MaxSegments + 1; i++)
        {
            ring.SetDesc(i, buffer, 1, TestRing.Next, (ushort)(i + 1));
        }
        ring.SetDesc(DescriptorChain.MaxSegments, buffer, 1);
        ring.Offer(0);
        // Exactly the cap is fine: one descriptor, then 2..MaxSegments.
        ring.SetDesc(size - 2, buffer, 1, TestRing.Next, 2);
        ring.Offer(size - 2);
        var queue = ring.CreateQueue();

        Assert.Equal(PopResult.TooManySegments, queue.TryPop(_chain));
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(DescriptorChain.MaxSegments, _chain.DescriptorCount);
        Assert.Equal(DescriptorChain.MaxSegments, _chain.Segments.Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-8)]
    [InlineData(65536)]
    [InlineData(24)]
    public void A_size_that_is_not_a_power_of_two_up_to_32768_is_refused(int size)
    {
        var ring = new TestRing(_guest, 8);
        Assert.False(SplitVirtqueue.TryCreate(_guest.Memory, size, ring.Addresses, 0, 0, out _, out var error));
        Assert.Equal(VirtqueueSetupError.InvalidSize, error);
    }

    [Fact]
    public void The_largest_queue_is_accepted()
    {
        var ring = new TestRing(_guest, SplitVirtqueue.MaxSize);
        var queue = ring.CreateQueue(EventIdx);
        Assert.Equal(SplitVirtqueue.MaxSize, queue.Size);
    }

    [Fact]
    public void Rings_must_be_mapped_whole_event_fields_included_and_aligned()
    {
        const int size = 8;
        var ring = new TestRing(_guest, size);
        var a = ring.Addresses;
        var end = TestGuest.UserOf(TestGuest.Region0 + TestGuest.Region0Size - 1) + 1;
        Assert.Equal(VirtqueueSetupError.DescTableUnmapped, Create(a with { DescTable = 0x1000 }));
        Assert.Equal(VirtqueueSetupError.DescTableUnmapped, Create(a with { DescTable = end - (16 * size) + 16 }));
        // The avail ring fits without used_event, not with it.
        Assert.Equal(VirtqueueSetupError.AvailRingUnmapped, Create(a with { AvailRing = end - 4 - (2 * size) }));
        Assert.Equal(VirtqueueSetupError.UsedRingUnmapped, Create(a with { UsedRing = end - 4 - (8 * size) }));
        Assert.Equal(VirtqueueSetupError.Misaligned, Create(a with { DescTable = a.DescTable + 8 }));
        Assert.Equal(VirtqueueSetupError.Misaligned, Create(a with { AvailRing = a.AvailRing + 1 }));
        Assert.Equal(VirtqueueSetupError.Misaligned, Create(a with { UsedRing = a.UsedRing + 2 }));
        Assert.Equal(VirtqueueSetupError.None, Create(a with { AvailRing = end - 6 - (2 * size), UsedRing = end - 0x1000 }));

        VirtqueueSetupError Create(VirtqueueAddresses addresses)
        {
            SplitVirtqueue.TryCreate(_guest.Memory, size, addresses, 0, 0, out _, out var error);
            return error;
        }
    }

    [Fact]
    public void Without_event_idx_the_driver_is_notified_unless_it_set_no_interrupt()
    {
        var ring = new TestRing(_guest, 8);
        var queue = ring.CreateQueue();
        Assert.False(queue.ShouldNotifyDriver());

        queue.Push(0, 0);
        Assert.True(queue.ShouldNotifyDriver());
        // Nothing new since: no interrupt.
        Assert.False(queue.ShouldNotifyDriver());

        ring.AvailFlags = 1;
        queue.Push(0, 0);
        Assert.False(queue.ShouldNotifyDriver());
        ring.AvailFlags = 0;
        queue.AddUsed(0, 0);
        Assert.False(queue.ShouldNotifyDriver());
        queue.FlushUsed();
        Assert.True(queue.ShouldNotifyDriver());
    }

    [Fact]
    public void With_event_idx_the_driver_is_notified_when_used_idx_crosses_used_event()
    {
        var ring = new TestRing(_guest, 8);
        var queue = ring.CreateQueue(EventIdx);
        Assert.False(queue.ShouldNotifyDriver());
        // The first decision has no history: notify, as Linux vhost does, even if used_event says otherwise.
        ring.UsedEvent = 100;
        queue.Push(0, 0);
        Assert.True(queue.ShouldNotifyDriver());

        ring.UsedEvent = 1;
        queue.Push(0, 0);
        Assert.True(queue.ShouldNotifyDriver());

        // Driver wants an interrupt once used entry 3 is written (used idx moves from 3 to 4).
        ring.UsedEvent = 3;
        queue.Push(0, 0);
        Assert.False(queue.ShouldNotifyDriver());
        queue.Push(0, 0);
        Assert.True(queue.ShouldNotifyDriver());
        Assert.False(queue.ShouldNotifyDriver());

        // A batch jumping over used_event notifies once.
        ring.UsedEvent = 5;
        for (var i = 0; i < 4; i++)
        {
            queue.AddUsed(0, 0);
        }
        queue.FlushUsed();
        Assert.True(queue.ShouldNotifyDriver());

        // used_event behind the batch: the driver has not caught up yet, no interrupt.
        ring.UsedEvent = 4;
        queue.Push(0, 0);
        Assert.False(queue.ShouldNotifyDriver());
    }

    [Fact]
    public void With_event_idx_notification_decisions_survive_wrap_around()
    {
        var ring = new TestRing(_guest, 8);
        ring.UsedIdx = 65534;
        var queue = ring.CreateQueue(EventIdx);
        ring.UsedEvent = 65534;
        queue.Push(0, 0);
        Assert.True(queue.ShouldNotifyDriver());
        ring.UsedEvent = 0;
        queue.Push(0, 0);
        Assert.False(queue.ShouldNotifyDriver());
        queue.Push(0, 0);
        Assert.True(queue.ShouldNotifyDriver());
        Assert.Equal(1, ring.UsedIdx);
    }

    [Fact]
    public void Without_event_idx_kicks_are_toggled_with_the_no_notify_flag()
    {
        var ring = new TestRing(_guest, 8);
        var buffer = _guest.AllocBuffer(8);
        ring.SetDesc(0, buffer, 8);
        var queue = ring.CreateQueue();

        queue.DisableNotifications();
        Assert.Equal(1, ring.UsedFlags);
        Assert.False(queue.EnableNotifications());
        Assert.Equal(0, ring.UsedFlags);

        ring.Offer(0);
        queue.DisableNotifications();
        // A buffer arrived while notifications were off: enabling says to poll again instead of sleeping.
        Assert.True(queue.EnableNotifications());
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.False(queue.EnableNotifications());
    }

    [Fact]
    public void With_event_idx_enabling_kicks_sets_avail_event_and_disabling_leaves_it_behind()
    {
        var ring = new TestRing(_guest, 8);
        var buffer = _guest.AllocBuffer(8);
        ring.SetDesc(0, buffer, 8);
        ring.AvailEvent = 0xBEEF;
        var queue = ring.CreateQueue(EventIdx);

        queue.DisableNotifications();
        Assert.Equal(0xBEEF, ring.AvailEvent);
        Assert.Equal(0, ring.UsedFlags);

        ring.Offer(0);
        ring.Offer(0);
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.False(queue.EnableNotifications());
        Assert.Equal(2, ring.AvailEvent);

        ring.Offer(0);
        Assert.True(queue.EnableNotifications());
        Assert.Equal(0, ring.UsedFlags);
    }

    [Fact]
    public void Chain_objects_are_independent_so_several_can_be_held_at_once()
    {
        var ring = new TestRing(_guest, 8);
        var a = _guest.AllocBuffer([1]);
        var b = _guest.AllocBuffer([2]);
        ring.SetDesc(0, a, 1);
        ring.SetDesc(1, b, 1);
        ring.Offer(0);
        ring.Offer(1);
        var queue = ring.CreateQueue();
        var second = new DescriptorChain();

        Assert.Equal(PopResult.Ok, queue.TryPop(_chain));
        Assert.Equal(PopResult.Ok, queue.TryPop(second));
        Assert.Equal(1, _chain.ReadableSegments[0].AsSpan()[0]);
        Assert.Equal(2, second.ReadableSegments[0].AsSpan()[0]);
    }
}
