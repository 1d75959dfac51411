namespace CloonixActors.Relay.VhostUser;

/// <summary>The 12-byte header every vhost-user message starts with.</summary>
public readonly record struct VhostUserHeader(VhostUserRequest Request, uint Flags, uint Size)
{
    public const int Length = 12;

    /// <summary>The lower two flag bits carry the protocol version; only version 1 exists.</summary>
    public const uint VersionMask = 0x3;
    public const uint Version = 0x1;
    /// <summary>Bit 2: set on every reply from the back-end.</summary>
    public const uint ReplyFlag = 0x4;
    /// <summary>Bit 3: the front-end wants a u64 ack (REPLY_ACK).</summary>
    public const uint NeedReplyFlag = 0x8;

    /// <summary>The flags of every reply we send: version 1 and the reply bit, nothing else (QEMU checks).</summary>
    public const uint ReplyFlags = Version | ReplyFlag;

    public bool NeedReply => (Flags & NeedReplyFlag) != 0;

    public bool IsReply => (Flags & ReplyFlag) != 0;
}

/// <summary>struct vhost_vring_state: a ring index and a number (size, base, enable).</summary>
public readonly record struct VringState(uint Index, uint Num)
{
    public const int Length = 8;
}

/// <summary>
/// struct vhost_vring_addr. Note the field order on the wire: desc, used, avail, log (the table in
/// vhost-user.rst lists "size" and "available" before "used", but QEMU sends the kernel struct).
/// The ring addresses are QEMU's virtual addresses (not guest-physical) unless IOMMU_PLATFORM.
/// </summary>
public readonly record struct VringAddress(
    uint Index,
    uint Flags,
    ulong DescriptorUserAddr,
    ulong UsedUserAddr,
    ulong AvailableUserAddr,
    ulong LogGuestAddr)
{
    public const int Length = 40;

    /// <summary>VHOST_VRING_F_LOG: log writes to the used ring (live migration).</summary>
    public const uint LogFlag = 0x1;
}

/// <summary>The u64 of SET_VRING_KICK/CALL/ERR: ring index in bits 0-7, bit 8 = no descriptor attached.</summary>
public readonly record struct VringFile(uint Index, bool NoFd)
{
    public const ulong IndexMask = 0xff;
    public const ulong NoFdFlag = 0x100;
}

/// <summary>One region of SET_MEM_TABLE, before it is mapped.</summary>
public readonly record struct MemoryRegionDescription(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset)
{
    public const int Length = 32;
}
