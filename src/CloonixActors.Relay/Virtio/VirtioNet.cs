using System.Buffers.Binary;

namespace CloonixActors.Relay.Virtio;

/// <summary>
/// Feature bit numbers (not masks) from the virtio spec and Linux's uapi virtio_config.h, virtio_ring.h,
/// virtio_net.h and vhost.h. Use <see cref="Mask"/> and <see cref="Has"/> to work with a feature word.
/// </summary>
public static class VirtioFeatures
{
    // virtio-net device features.
    public const int NetCsum = 0;
    public const int NetGuestCsum = 1;
    public const int NetCtrlGuestOffloads = 2;
    public const int NetMtu = 3;
    public const int NetMac = 5;
    public const int NetGuestTso4 = 7;
    public const int NetGuestTso6 = 8;
    public const int NetGuestEcn = 9;
    public const int NetGuestUfo = 10;
    public const int NetHostTso4 = 11;
    public const int NetHostTso6 = 12;
    public const int NetHostEcn = 13;
    public const int NetHostUfo = 14;
    public const int NetMrgRxbuf = 15;
    public const int NetStatus = 16;
    public const int NetCtrlVq = 17;
    public const int NetCtrlRx = 18;
    public const int NetCtrlVlan = 19;
    public const int NetGuestAnnounce = 21;
    public const int NetMq = 22;
    public const int NetGuestUso4 = 54;
    public const int NetGuestUso6 = 55;
    public const int NetHostUso = 56;

    // Transport and ring features.
    public const int NotifyOnEmpty = 24;
    /// <summary>VHOST_F_LOG_ALL: dirty page logging for migration (not implemented here).</summary>
    public const int LogAll = 26;
    public const int AnyLayout = 27;
    public const int RingIndirectDesc = 28;
    public const int RingEventIdx = 29;
    /// <summary>Shares bit 30 with the legacy VIRTIO_F_BAD_FEATURE; QEMU requires it from a vhost-user backend.</summary>
    public const int VhostUserProtocolFeatures = 30;
    public const int Version1 = 32;
    public const int AccessPlatform = 33;
    public const int RingPacked = 34;
    public const int InOrder = 35;
    public const int OrderPlatform = 36;
    public const int RingReset = 40;

    public static ulong Mask(int bit) => 1UL << bit;

    public static bool Has(ulong features, int bit) => (features & (1UL << bit)) != 0;
}

/// <summary>
/// struct virtio_net_hdr (with num_buffers, i.e. virtio_net_hdr_mrg_rxbuf), little-endian as VERSION_1
/// requires and as legacy x86 guests use natively. It precedes every frame on both TX and RX rings.
/// </summary>
public struct VirtioNetHeader : IEquatable<VirtioNetHeader>
{
    /// <summary>Without MRG_RXBUF and without VERSION_1: no num_buffers field.</summary>
    public const int LegacySize = 10;
    /// <summary>With MRG_RXBUF or VERSION_1: num_buffers is present.</summary>
    public const int Size = 12;

    public const byte FlagNeedsCsum = 1;
    public const byte FlagDataValid = 2;
    public const byte FlagRscInfo = 4;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;
    public const byte GsoEcn = 0x80;

    public byte Flags { get; set; }
    public byte GsoType { get; set; }
    public ushort HdrLen { get; set; }
    public ushort GsoSize { get; set; }
    public ushort CsumStart { get; set; }
    public ushort CsumOffset { get; set; }
    public ushort NumBuffers { get; set; }

    /// <summary>The header length both sides use once these features are negotiated.</summary>
    public static int SizeFor(ulong negotiatedFeatures) =>
        VirtioFeatures.Has(negotiatedFeatures, VirtioFeatures.NetMrgRxbuf) || VirtioFeatures.Has(negotiatedFeatures, VirtioFeatures.Version1)
            ? Size
            : LegacySize;

    /// <summary>Parses 10 or 12 bytes (NumBuffers is 0 for 10).</summary>
    public static VirtioNetHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length is not (LegacySize or Size))
        {
            throw new ArgumentException($"a virtio-net header is {LegacySize} or {Size} bytes, not {source.Length}", nameof(source));
        }
        return new VirtioNetHeader
        {
            Flags = source[0],
            GsoType = source[1],
            HdrLen = BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
            GsoSize = BinaryPrimitives.ReadUInt16LittleEndian(source[4..]),
            CsumStart = BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
            CsumOffset = BinaryPrimitives.ReadUInt16LittleEndian(source[8..]),
            NumBuffers = source.Length == Size ? BinaryPrimitives.ReadUInt16LittleEndian(source[10..]) : (ushort)0,
        };
    }

    /// <summary>Writes 10 or 12 bytes, as long as <paramref name="destination"/> is.</summary>
    public readonly void Write(Span<byte> destination)
    {
        if (destination.Length is not (LegacySize or Size))
        {
            throw new ArgumentException($"a virtio-net header is {LegacySize} or {Size} bytes, not {destination.Length}", nameof(destination));
        }
        destination[0] = Flags;
        destination[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], HdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], CsumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], CsumOffset);
        if (destination.Length == Size)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], NumBuffers);
        }
    }

    public readonly bool Equals(VirtioNetHeader other) =>
        Flags == other.Flags && GsoType == other.GsoType && HdrLen == other.HdrLen && GsoSize == other.GsoSize
        && CsumStart == other.CsumStart && CsumOffset == other.CsumOffset && NumBuffers == other.NumBuffers;

    public override readonly bool Equals(object? obj) => obj is VirtioNetHeader other && Equals(other);

    public override readonly int GetHashCode() => HashCode.Combine(Flags, GsoType, HdrLen, GsoSize, CsumStart, CsumOffset, NumBuffers);

    public static bool operator ==(VirtioNetHeader left, VirtioNetHeader right) => left.Equals(right);

    public static bool operator !=(VirtioNetHeader left, VirtioNetHeader right) => !left.Equals(right);

    public override readonly string ToString() =>
        $"flags={Flags} gso={GsoType} hdr_len={HdrLen} gso_size={GsoSize} csum={CsumStart}+{CsumOffset} bufs={NumBuffers}";
}
