namespace CloonixActors.Relay.VhostUser;

/// <summary>
/// Virtio feature bits a vhost-user net back-end deals with (virtio 1.1 §5.1.3 and §6, plus the
/// vhost-user bit 30). Bit numbers are the specification's; the values are masks.
/// </summary>
[Flags]
public enum VirtioFeatures : ulong
{
    None = 0,
    /// <summary>VIRTIO_NET_F_CSUM (0): the device takes frames with a partial checksum from the driver.</summary>
    NetCsum = 1UL << 0,
    /// <summary>VIRTIO_NET_F_GUEST_CSUM (1): the driver takes frames with a partial checksum.</summary>
    NetGuestCsum = 1UL << 1,
    /// <summary>VIRTIO_NET_F_MTU (3).</summary>
    NetMtu = 1UL << 3,
    /// <summary>VIRTIO_NET_F_MAC (5).</summary>
    NetMac = 1UL << 5,
    /// <summary>VIRTIO_NET_F_GUEST_TSO4 (7): the driver takes TSO4 super-frames.</summary>
    NetGuestTso4 = 1UL << 7,
    /// <summary>VIRTIO_NET_F_GUEST_TSO6 (8).</summary>
    NetGuestTso6 = 1UL << 8,
    /// <summary>VIRTIO_NET_F_GUEST_ECN (9).</summary>
    NetGuestEcn = 1UL << 9,
    /// <summary>VIRTIO_NET_F_GUEST_UFO (10).</summary>
    NetGuestUfo = 1UL << 10,
    /// <summary>VIRTIO_NET_F_HOST_TSO4 (11): the device takes TSO4 super-frames from the driver.</summary>
    NetHostTso4 = 1UL << 11,
    /// <summary>VIRTIO_NET_F_HOST_TSO6 (12).</summary>
    NetHostTso6 = 1UL << 12,
    /// <summary>VIRTIO_NET_F_HOST_ECN (13).</summary>
    NetHostEcn = 1UL << 13,
    /// <summary>VIRTIO_NET_F_HOST_UFO (14).</summary>
    NetHostUfo = 1UL << 14,
    /// <summary>VIRTIO_NET_F_MRG_RXBUF (15): one received frame may span several RX buffers.</summary>
    NetMrgRxbuf = 1UL << 15,
    /// <summary>VIRTIO_NET_F_STATUS (16).</summary>
    NetStatus = 1UL << 16,
    /// <summary>VIRTIO_NET_F_CTRL_VQ (17).</summary>
    NetCtrlVq = 1UL << 17,
    /// <summary>VIRTIO_NET_F_MQ (22).</summary>
    NetMq = 1UL << 22,
    /// <summary>VHOST_F_LOG_ALL (26): dirty-page logging for live migration.</summary>
    LogAll = 1UL << 26,
    /// <summary>VIRTIO_F_ANY_LAYOUT (27), legacy.</summary>
    AnyLayout = 1UL << 27,
    /// <summary>VIRTIO_F_RING_INDIRECT_DESC (28).</summary>
    RingIndirectDesc = 1UL << 28,
    /// <summary>VIRTIO_F_RING_EVENT_IDX (29).</summary>
    RingEventIdx = 1UL << 29,
    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES (30): the back-end speaks GET/SET_PROTOCOL_FEATURES.</summary>
    ProtocolFeatures = 1UL << 30,
    /// <summary>VIRTIO_F_VERSION_1 (32): modern (little-endian, virtio 1.x) device.</summary>
    Version1 = 1UL << 32,
    /// <summary>VIRTIO_F_ACCESS_PLATFORM / IOMMU_PLATFORM (33).</summary>
    AccessPlatform = 1UL << 33,
    /// <summary>VIRTIO_F_RING_PACKED (34).</summary>
    RingPacked = 1UL << 34,
}

/// <summary>Vhost-user protocol feature bits (docs/interop/vhost-user.rst, "Protocol features"), as masks.</summary>
[Flags]
public enum VhostUserProtocolFeatures : ulong
{
    None = 0,
    Mq = 1UL << 0,
    LogShmfd = 1UL << 1,
    Rarp = 1UL << 2,
    ReplyAck = 1UL << 3,
    Mtu = 1UL << 4,
    BackendReq = 1UL << 5,
    CrossEndian = 1UL << 6,
    CryptoSession = 1UL << 7,
    Pagefault = 1UL << 8,
    Config = 1UL << 9,
    BackendSendFd = 1UL << 10,
    HostNotifier = 1UL << 11,
    InflightShmfd = 1UL << 12,
    ResetDevice = 1UL << 13,
    InbandNotifications = 1UL << 14,
    ConfigureMemSlots = 1UL << 15,
    Status = 1UL << 16,
}
