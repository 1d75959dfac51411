using System.Buffers.Binary;
using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Relay.Tests.VhostUser;

public sealed class VhostUserCodecTests
{
    private static byte[] Header(uint request, uint flags, uint size)
    {
        var bytes = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, request);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), size);
        return bytes;
    }

    [Fact]
    public void Request_ids_are_those_of_the_vhost_user_spec()
    {
        Assert.Equal(1u, (uint)VhostUserRequest.GetFeatures);
        Assert.Equal(2u, (uint)VhostUserRequest.SetFeatures);
        Assert.Equal(3u, (uint)VhostUserRequest.SetOwner);
        Assert.Equal(4u, (uint)VhostUserRequest.ResetOwner);
        Assert.Equal(5u, (uint)VhostUserRequest.SetMemTable);
        Assert.Equal(8u, (uint)VhostUserRequest.SetVringNum);
        Assert.Equal(9u, (uint)VhostUserRequest.SetVringAddr);
        Assert.Equal(10u, (uint)VhostUserRequest.SetVringBase);
        Assert.Equal(11u, (uint)VhostUserRequest.GetVringBase);
        Assert.Equal(12u, (uint)VhostUserRequest.SetVringKick);
        Assert.Equal(13u, (uint)VhostUserRequest.SetVringCall);
        Assert.Equal(14u, (uint)VhostUserRequest.SetVringErr);
        Assert.Equal(15u, (uint)VhostUserRequest.GetProtocolFeatures);
        Assert.Equal(16u, (uint)VhostUserRequest.SetProtocolFeatures);
        Assert.Equal(17u, (uint)VhostUserRequest.GetQueueNum);
        Assert.Equal(18u, (uint)VhostUserRequest.SetVringEnable);
        Assert.Equal(19u, (uint)VhostUserRequest.SendRarp);
        Assert.Equal(20u, (uint)VhostUserRequest.NetSetMtu);
        Assert.Equal(24u, (uint)VhostUserRequest.GetConfig);
        Assert.Equal(25u, (uint)VhostUserRequest.SetConfig);
    }

    [Fact]
    public void Feature_bits_are_those_of_the_virtio_and_vhost_user_specs()
    {
        Assert.Equal(1UL << 0, (ulong)VirtioFeatures.NetCsum);
        Assert.Equal(1UL << 1, (ulong)VirtioFeatures.NetGuestCsum);
        Assert.Equal(1UL << 7, (ulong)VirtioFeatures.NetGuestTso4);
        Assert.Equal(1UL << 8, (ulong)VirtioFeatures.NetGuestTso6);
        Assert.Equal(1UL << 11, (ulong)VirtioFeatures.NetHostTso4);
        Assert.Equal(1UL << 12, (ulong)VirtioFeatures.NetHostTso6);
        Assert.Equal(1UL << 15, (ulong)VirtioFeatures.NetMrgRxbuf);
        Assert.Equal(1UL << 28, (ulong)VirtioFeatures.RingIndirectDesc);
        Assert.Equal(1UL << 29, (ulong)VirtioFeatures.RingEventIdx);
        Assert.Equal(1UL << 30, (ulong)VirtioFeatures.ProtocolFeatures);
        Assert.Equal(1UL << 32, (ulong)VirtioFeatures.Version1);
        Assert.Equal(1UL << 3, (ulong)VhostUserProtocolFeatures.ReplyAck);
        Assert.Equal(1UL << 9, (ulong)VhostUserProtocolFeatures.Config);
    }

    [Fact]
    public unsafe void Native_layouts_match_x86_64()
    {
        Assert.Equal(56, sizeof(LibC.MsgHdr));
        Assert.Equal(16, sizeof(LibC.IoVec));
        Assert.Equal(16, sizeof(LibC.CmsgHdr));
        Assert.Equal(8, sizeof(LibC.PollFd));
        Assert.Equal(16, sizeof(LibC.TimeVal));
        Assert.Equal(48, LibC.CmsgSpace(8 * sizeof(int)));
        Assert.Equal(24, LibC.CmsgSpace(sizeof(int)));
    }

    [Fact]
    public void File_size_reads_st_size_of_this_architectures_struct_stat()
    {
        var fd = TestNative.CreateMemfd(123_456);
        try
        {
            Assert.Equal(123_456, LibC.FileSize(fd));
        }
        finally
        {
            LibC.CloseFd(fd);
        }

        Assert.Equal(-1, LibC.FileSize(-1));
    }

    [Fact]
    public void Header_is_parsed_from_hand_built_bytes()
    {
        var header = VhostUserCodec.ReadHeader(Header(5, 0x9, 40));

        Assert.Equal(VhostUserRequest.SetMemTable, header.Request);
        Assert.Equal(0x9u, header.Flags);
        Assert.Equal(40u, header.Size);
        Assert.True(header.NeedReply);
        Assert.False(header.IsReply);
    }

    [Fact]
    public void Header_without_need_reply_does_not_ask_for_one()
    {
        var header = VhostUserCodec.ReadHeader(Header(1, 0x1, 0));

        Assert.Equal(VhostUserRequest.GetFeatures, header.Request);
        Assert.False(header.NeedReply);
    }

    [Theory]
    [InlineData(0x0u)]
    [InlineData(0x2u)]
    [InlineData(0x3u)]
    [InlineData(0xau)]
    public void Header_with_another_version_is_fatal(uint flags)
    {
        var ex = Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadHeader(Header(1, flags, 0)));

        Assert.True(ex.Fatal);
    }

    [Theory]
    [InlineData(4097u)]
    [InlineData(0x10000u)]
    [InlineData(0x7fffffffu)]
    [InlineData(0xffffffffu)]
    public void Header_with_an_absurd_size_is_fatal(uint size)
    {
        var ex = Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadHeader(Header(5, 1, size)));

        Assert.True(ex.Fatal);
        Assert.Contains("size", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_of_the_largest_accepted_size_is_fine()
    {
        Assert.Equal((uint)VhostUserCodec.MaxPayloadSize, VhostUserCodec.ReadHeader(Header(99, 1, 4096)).Size);
    }

    [Fact]
    public void Short_header_is_fatal()
    {
        var ex = Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadHeader(new byte[11]));

        Assert.True(ex.Fatal);
    }

    [Fact]
    public void Unknown_request_ids_still_parse_so_they_can_be_refused()
    {
        Assert.Equal((VhostUserRequest)999, VhostUserCodec.ReadHeader(Header(999, 1, 0)).Request);
    }

    [Fact]
    public void U64_payload_is_read()
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, 0x1_4000_8000UL);

        Assert.Equal(0x1_4000_8000UL, VhostUserCodec.ReadU64(payload));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(16)]
    public void U64_payload_of_the_wrong_size_is_a_clean_non_fatal_error(int size)
    {
        var ex = Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadU64(new byte[size]));

        Assert.False(ex.Fatal);
    }

    [Fact]
    public void Vring_state_is_read()
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), 256);

        Assert.Equal(new VringState(1, 256), VhostUserCodec.ReadVringState(payload));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadVringState(payload.AsSpan(0, 4)));
    }

    [Fact]
    public void Vring_address_is_read_in_kernel_struct_order_desc_used_avail_log()
    {
        var payload = new byte[40];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), 0);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), 0x7f00_0000_1000);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(16), 0x7f00_0000_3000);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(24), 0x7f00_0000_2000);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(32), 0x3000);

        var address = VhostUserCodec.ReadVringAddress(payload);

        Assert.Equal(1u, address.Index);
        Assert.Equal(0x7f00_0000_1000UL, address.DescriptorUserAddr);
        Assert.Equal(0x7f00_0000_3000UL, address.UsedUserAddr);
        Assert.Equal(0x7f00_0000_2000UL, address.AvailableUserAddr);
        Assert.Equal(0x3000UL, address.LogGuestAddr);
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadVringAddress(payload.AsSpan(0, 32)));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadVringAddress(new byte[48]));
    }

    [Theory]
    [InlineData(0x000UL, 0u, false)]
    [InlineData(0x001UL, 1u, false)]
    [InlineData(0x101UL, 1u, true)]
    [InlineData(0x1ffUL, 255u, true)]
    public void Vring_file_splits_index_and_no_fd_flag(ulong value, uint index, bool noFd)
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, value);

        Assert.Equal(new VringFile(index, noFd), VhostUserCodec.ReadVringFile(payload));
    }

    [Fact]
    public void Memory_table_is_read_from_hand_built_bytes()
    {
        var payload = new byte[8 + 64];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, 2);
        WriteRegion(payload.AsSpan(8), 0x0, 0xa0000, 0x7f12_0000_0000, 0x0);
        WriteRegion(payload.AsSpan(40), 0xc0000, 0xff40000, 0x7f12_000c_0000, 0xc0000);
        var regions = new MemoryRegionDescription[8];

        var count = VhostUserCodec.ReadMemoryTable(payload, regions);

        Assert.Equal(2, count);
        Assert.Equal(new MemoryRegionDescription(0x0, 0xa0000, 0x7f12_0000_0000, 0x0), regions[0]);
        Assert.Equal(new MemoryRegionDescription(0xc0000, 0xff40000, 0x7f12_000c_0000, 0xc0000), regions[1]);
    }

    [Fact]
    public void Memory_table_with_the_full_eight_slot_array_is_accepted()
    {
        var payload = new byte[8 + (8 * 32)];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, 1);
        WriteRegion(payload.AsSpan(8), 0x0, 0x1000, 0x1000, 0x0);

        Assert.Equal(1, VhostUserCodec.ReadMemoryTable(payload, new MemoryRegionDescription[8]));
    }

    [Theory]
    [InlineData(0u, 8)]
    [InlineData(9u, 8 + (9 * 32))]
    [InlineData(0xffffffffu, 264)]
    [InlineData(2u, 8 + 32)]
    [InlineData(1u, 8 + 31)]
    [InlineData(1u, 4)]
    public void Malformed_memory_tables_are_clean_errors(uint count, int size)
    {
        var payload = new byte[size];
        if (size >= 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(payload, count);
        }

        var ex = Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadMemoryTable(payload, new MemoryRegionDescription[8]));

        Assert.False(ex.Fatal);
    }

    [Fact]
    public void Memory_table_round_trips_through_the_encoder()
    {
        MemoryRegionDescription[] regions = [new(0, 0x1000, 0x7000, 0), new(0x100000, 0x2000, 0x9000, 0x1000)];
        var buffer = new byte[8 + 64];

        Assert.Equal(72, VhostUserCodec.WriteMemoryTable(buffer, regions));
        var decoded = new MemoryRegionDescription[8];
        Assert.Equal(2, VhostUserCodec.ReadMemoryTable(buffer, decoded));
        Assert.Equal(regions, decoded[..2]);
    }

    [Fact]
    public void U64_reply_has_flags_exactly_0x5_and_an_8_byte_payload()
    {
        var buffer = new byte[32];

        var length = VhostUserCodec.WriteU64Reply(buffer, VhostUserRequest.GetFeatures, 0x1_4000_8000UL);

        Assert.Equal(20, length);
        Assert.Equal(
            new byte[] { 1, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 0x00, 0x80, 0x00, 0x40, 0x01, 0, 0, 0 },
            buffer[..20]);
    }

    [Fact]
    public void Ack_reply_echoes_the_request_with_status_zero()
    {
        var buffer = new byte[20];

        VhostUserCodec.WriteU64Reply(buffer, VhostUserRequest.SetMemTable, 0);

        Assert.Equal(new byte[] { 5, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, buffer);
    }

    [Fact]
    public void Vring_base_reply_carries_index_and_last_avail_idx()
    {
        var buffer = new byte[20];

        var length = VhostUserCodec.WriteVringStateReply(buffer, VhostUserRequest.GetVringBase, new VringState(1, 0x1234));

        Assert.Equal(20, length);
        Assert.Equal(new byte[] { 11, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x34, 0x12, 0, 0 }, buffer);
    }

    [Fact]
    public void Empty_reply_is_a_bare_header()
    {
        var buffer = new byte[12];

        Assert.Equal(12, VhostUserCodec.WriteEmptyReply(buffer, VhostUserRequest.GetConfig));
        Assert.Equal(new byte[] { 24, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0 }, buffer);
    }

    [Fact]
    public void Requests_with_their_own_reply_are_known()
    {
        Assert.True(VhostUserCodec.HasExplicitReply(VhostUserRequest.GetFeatures));
        Assert.True(VhostUserCodec.HasExplicitReply(VhostUserRequest.GetProtocolFeatures));
        Assert.True(VhostUserCodec.HasExplicitReply(VhostUserRequest.GetVringBase));
        Assert.True(VhostUserCodec.HasExplicitReply(VhostUserRequest.GetQueueNum));
        Assert.True(VhostUserCodec.HasExplicitReply(VhostUserRequest.GetConfig));
        Assert.False(VhostUserCodec.HasExplicitReply(VhostUserRequest.SetMemTable));
        Assert.False(VhostUserCodec.HasExplicitReply(VhostUserRequest.SetVringKick));
        Assert.False(VhostUserCodec.HasExplicitReply((VhostUserRequest)999));
    }

    private static void WriteRegion(Span<byte> slot, ulong gpa, ulong size, ulong user, ulong offset)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(slot, gpa);
        BinaryPrimitives.WriteUInt64LittleEndian(slot[8..], size);
        BinaryPrimitives.WriteUInt64LittleEndian(slot[16..], user);
        BinaryPrimitives.WriteUInt64LittleEndian(slot[24..], offset);
    }
}
