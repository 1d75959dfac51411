using CloonixActors.Relay.Virtio;

namespace CloonixActors.Relay.Tests.Virtio;

public sealed class VirtioNetTests
{
    [Fact]
    public void Feature_bits_match_the_virtio_spec_and_linux_headers()
    {
        Assert.Equal(0, VirtioFeatures.NetCsum);
        Assert.Equal(1, VirtioFeatures.NetGuestCsum);
        Assert.Equal(7, VirtioFeatures.NetGuestTso4);
        Assert.Equal(8, VirtioFeatures.NetGuestTso6);
        Assert.Equal(11, VirtioFeatures.NetHostTso4);
        Assert.Equal(12, VirtioFeatures.NetHostTso6);
        Assert.Equal(15, VirtioFeatures.NetMrgRxbuf);
        Assert.Equal(16, VirtioFeatures.NetStatus);
        Assert.Equal(17, VirtioFeatures.NetCtrlVq);
        Assert.Equal(27, VirtioFeatures.AnyLayout);
        Assert.Equal(28, VirtioFeatures.RingIndirectDesc);
        Assert.Equal(29, VirtioFeatures.RingEventIdx);
        Assert.Equal(30, VirtioFeatures.VhostUserProtocolFeatures);
        Assert.Equal(32, VirtioFeatures.Version1);
        Assert.Equal(40, VirtioFeatures.RingReset);
        Assert.Equal(0x1_0000_0000UL, VirtioFeatures.Mask(VirtioFeatures.Version1));
        Assert.True(VirtioFeatures.Has(0x8000, VirtioFeatures.NetMrgRxbuf));
        Assert.False(VirtioFeatures.Has(0x4000, VirtioFeatures.NetMrgRxbuf));
    }

    [Theory]
    [InlineData(0UL, 10)]
    [InlineData(1UL << VirtioFeatures.NetMrgRxbuf, 12)]
    [InlineData(1UL << VirtioFeatures.Version1, 12)]
    [InlineData((1UL << VirtioFeatures.Version1) | (1UL << VirtioFeatures.NetMrgRxbuf), 12)]
    [InlineData((1UL << VirtioFeatures.NetCsum) | (1UL << VirtioFeatures.RingEventIdx), 10)]
    public void The_header_has_num_buffers_with_mrg_rxbuf_or_version_1(ulong features, int size) =>
        Assert.Equal(size, VirtioNetHeader.SizeFor(features));

    [Fact]
    public void The_header_round_trips_little_endian()
    {
        var header = new VirtioNetHeader
        {
            Flags = VirtioNetHeader.FlagNeedsCsum,
            GsoType = VirtioNetHeader.GsoTcpV4,
            HdrLen = 0x0142,
            GsoSize = 1448,
            CsumStart = 34,
            CsumOffset = 16,
            NumBuffers = 3,
        };
        var bytes = new byte[12];
        header.Write(bytes);
        Assert.Equal(new byte[] { 1, 1, 0x42, 0x01, 0xA8, 0x05, 34, 0, 16, 0, 3, 0 }, bytes);
        Assert.Equal(header, VirtioNetHeader.Read(bytes));

        var legacy = new byte[10];
        header.Write(legacy);
        Assert.Equal(bytes[..10], legacy);
        Assert.Equal(header with { NumBuffers = 0 }, VirtioNetHeader.Read(legacy));
        Assert.Throws<ArgumentException>(() => VirtioNetHeader.Read(new byte[11]));
        Assert.Throws<ArgumentException>(() => header.Write(new byte[13]));
    }
}
