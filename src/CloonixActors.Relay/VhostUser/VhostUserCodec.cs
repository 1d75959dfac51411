using System.Runtime.InteropServices;

namespace CloonixActors.Relay.VhostUser;

/// <summary>
/// Encodes and decodes vhost-user messages. Numbers are in the machine's native byte order (the spec
/// says so: both ends run on the same host). Every decoder checks the payload size against what the
/// message type needs, because the size comes from the peer and a hostile front-end must only be able
/// to fail its own message, never to make us read or write out of bounds.
/// </summary>
public static class VhostUserCodec
{
    /// <summary>
    /// The largest payload we accept. Known payloads are at most 268 bytes (a 256-byte config space plus
    /// its 12-byte header; a full memory table is 264); 4 KiB leaves room for requests we do not know, so
    /// they can be read whole and refused without losing the framing. Anything larger ends the connection.
    /// </summary>
    public const int MaxPayloadSize = 4096;

    /// <summary>VHOST_MEMORY_BASELINE_NREGIONS: QEMU never sends more regions (or descriptors) in one message.</summary>
    public const int MaxMemoryRegions = 8;

    /// <summary>At most this many descriptors ride with one message (one per memory region).</summary>
    public const int MaxFds = 8;

    public const int U64Length = 8;

    /// <summary>nregions (u32) and padding (u32) before the region array of SET_MEM_TABLE.</summary>
    public const int MemoryTableHeaderLength = 8;

    /// <summary>
    /// Reads and validates a header. Throws a fatal <see cref="VhostUserProtocolException"/> when the
    /// version is not 1 or the size is beyond <see cref="MaxPayloadSize"/>: past such a header the stream
    /// cannot be re-synchronised.
    /// </summary>
    public static VhostUserHeader ReadHeader(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < VhostUserHeader.Length)
        {
            throw new VhostUserProtocolException($"header needs {VhostUserHeader.Length} bytes, got {bytes.Length}", fatal: true);
        }

        var request = MemoryMarshal.Read<uint>(bytes);
        var flags = MemoryMarshal.Read<uint>(bytes[4..]);
        var size = MemoryMarshal.Read<uint>(bytes[8..]);
        if ((flags & VhostUserHeader.VersionMask) != VhostUserHeader.Version)
        {
            throw new VhostUserProtocolException($"unsupported protocol version {flags & VhostUserHeader.VersionMask} (flags 0x{flags:x})", fatal: true);
        }

        if (size > MaxPayloadSize)
        {
            throw new VhostUserProtocolException($"payload size {size} exceeds {MaxPayloadSize} (request {request})", fatal: true);
        }

        return new VhostUserHeader((VhostUserRequest)request, flags, size);
    }

    public static void WriteHeader(Span<byte> destination, VhostUserHeader header)
    {
        RequireRoom(destination, VhostUserHeader.Length);
        var request = (uint)header.Request;
        var flags = header.Flags;
        var size = header.Size;
        MemoryMarshal.Write(destination, in request);
        MemoryMarshal.Write(destination[4..], in flags);
        MemoryMarshal.Write(destination[8..], in size);
    }

    public static ulong ReadU64(ReadOnlySpan<byte> payload)
    {
        RequireExactSize(payload, U64Length, "u64");
        return MemoryMarshal.Read<ulong>(payload);
    }

    public static VringState ReadVringState(ReadOnlySpan<byte> payload)
    {
        RequireExactSize(payload, VringState.Length, "vring state");
        return new VringState(MemoryMarshal.Read<uint>(payload), MemoryMarshal.Read<uint>(payload[4..]));
    }

    public static VringAddress ReadVringAddress(ReadOnlySpan<byte> payload)
    {
        RequireExactSize(payload, VringAddress.Length, "vring address");
        return new VringAddress(
            MemoryMarshal.Read<uint>(payload),
            MemoryMarshal.Read<uint>(payload[4..]),
            MemoryMarshal.Read<ulong>(payload[8..]),
            MemoryMarshal.Read<ulong>(payload[16..]),
            MemoryMarshal.Read<ulong>(payload[24..]),
            MemoryMarshal.Read<ulong>(payload[32..]));
    }

    public static VringFile ReadVringFile(ReadOnlySpan<byte> payload)
    {
        var value = ReadU64(payload);
        return new VringFile((uint)(value & VringFile.IndexMask), (value & VringFile.NoFdFlag) != 0);
    }

    /// <summary>
    /// Decodes the region list of SET_MEM_TABLE into <paramref name="regions"/> and returns how many there
    /// are. The count must be 1..8 and the payload must hold that many regions (QEMU sends exactly
    /// 8 + 32·n bytes; a longer payload, as some front-ends send the full 8-slot array, is accepted).
    /// </summary>
    public static int ReadMemoryTable(ReadOnlySpan<byte> payload, Span<MemoryRegionDescription> regions)
    {
        if (payload.Length < MemoryTableHeaderLength)
        {
            throw new VhostUserProtocolException($"memory table needs at least {MemoryTableHeaderLength} bytes, got {payload.Length}");
        }

        var count = MemoryMarshal.Read<uint>(payload);
        if (count == 0 || count > MaxMemoryRegions)
        {
            throw new VhostUserProtocolException($"memory table with {count} regions (1..{MaxMemoryRegions} allowed)");
        }

        var needed = MemoryTableHeaderLength + ((int)count * MemoryRegionDescription.Length);
        if (payload.Length < needed)
        {
            throw new VhostUserProtocolException($"memory table of {count} regions needs {needed} bytes, got {payload.Length}");
        }

        if (regions.Length < count)
        {
            throw new ArgumentException($"room for {count} regions needed", nameof(regions));
        }

        for (var i = 0; i < (int)count; i++)
        {
            var region = payload.Slice(MemoryTableHeaderLength + (i * MemoryRegionDescription.Length), MemoryRegionDescription.Length);
            regions[i] = new MemoryRegionDescription(
                MemoryMarshal.Read<ulong>(region),
                MemoryMarshal.Read<ulong>(region[8..]),
                MemoryMarshal.Read<ulong>(region[16..]),
                MemoryMarshal.Read<ulong>(region[24..]));
        }

        return (int)count;
    }

    /// <summary>A reply carrying a u64 (features, queue count, or a REPLY_ACK status: 0 = success).</summary>
    public static int WriteU64Reply(Span<byte> destination, VhostUserRequest request, ulong value)
    {
        RequireRoom(destination, VhostUserHeader.Length + U64Length);
        WriteHeader(destination, new VhostUserHeader(request, VhostUserHeader.ReplyFlags, U64Length));
        WriteU64(destination[VhostUserHeader.Length..], value);
        return VhostUserHeader.Length + U64Length;
    }

    /// <summary>A reply carrying a vring state (GET_VRING_BASE).</summary>
    public static int WriteVringStateReply(Span<byte> destination, VhostUserRequest request, VringState state)
    {
        RequireRoom(destination, VhostUserHeader.Length + VringState.Length);
        WriteHeader(destination, new VhostUserHeader(request, VhostUserHeader.ReplyFlags, VringState.Length));
        WriteVringState(destination[VhostUserHeader.Length..], state);
        return VhostUserHeader.Length + VringState.Length;
    }

    /// <summary>A reply with no payload: how GET_CONFIG reports an error (the spec's zero-length answer).</summary>
    public static int WriteEmptyReply(Span<byte> destination, VhostUserRequest request)
    {
        WriteHeader(destination, new VhostUserHeader(request, VhostUserHeader.ReplyFlags, 0));
        return VhostUserHeader.Length;
    }

    public static int WriteU64(Span<byte> destination, ulong value)
    {
        RequireRoom(destination, U64Length);
        MemoryMarshal.Write(destination, in value);
        return U64Length;
    }

    public static int WriteVringState(Span<byte> destination, VringState state)
    {
        RequireRoom(destination, VringState.Length);
        var index = state.Index;
        var num = state.Num;
        MemoryMarshal.Write(destination, in index);
        MemoryMarshal.Write(destination[4..], in num);
        return VringState.Length;
    }

    public static int WriteVringAddress(Span<byte> destination, VringAddress address)
    {
        RequireRoom(destination, VringAddress.Length);
        var index = address.Index;
        var flags = address.Flags;
        var desc = address.DescriptorUserAddr;
        var used = address.UsedUserAddr;
        var avail = address.AvailableUserAddr;
        var log = address.LogGuestAddr;
        MemoryMarshal.Write(destination, in index);
        MemoryMarshal.Write(destination[4..], in flags);
        MemoryMarshal.Write(destination[8..], in desc);
        MemoryMarshal.Write(destination[16..], in used);
        MemoryMarshal.Write(destination[24..], in avail);
        MemoryMarshal.Write(destination[32..], in log);
        return VringAddress.Length;
    }

    public static int WriteVringFile(Span<byte> destination, VringFile file) =>
        WriteU64(destination, (file.Index & VringFile.IndexMask) | (file.NoFd ? VringFile.NoFdFlag : 0));

    public static int WriteMemoryTable(Span<byte> destination, ReadOnlySpan<MemoryRegionDescription> regions)
    {
        var length = MemoryTableHeaderLength + (regions.Length * MemoryRegionDescription.Length);
        RequireRoom(destination, length);
        var count = (uint)regions.Length;
        var padding = 0u;
        MemoryMarshal.Write(destination, in count);
        MemoryMarshal.Write(destination[4..], in padding);
        for (var i = 0; i < regions.Length; i++)
        {
            var slot = destination.Slice(MemoryTableHeaderLength + (i * MemoryRegionDescription.Length));
            var region = regions[i];
            var gpa = region.GuestPhysAddr;
            var size = region.Size;
            var user = region.UserAddr;
            var offset = region.MmapOffset;
            MemoryMarshal.Write(slot, in gpa);
            MemoryMarshal.Write(slot[8..], in size);
            MemoryMarshal.Write(slot[16..], in user);
            MemoryMarshal.Write(slot[24..], in offset);
        }

        return length;
    }

    /// <summary>Whether a request always gets an answer with its own payload (so never a separate ack).</summary>
    public static bool HasExplicitReply(VhostUserRequest request) => request is
        VhostUserRequest.GetFeatures or
        VhostUserRequest.GetProtocolFeatures or
        VhostUserRequest.GetVringBase or
        VhostUserRequest.GetQueueNum or
        VhostUserRequest.GetConfig or
        VhostUserRequest.IotlbMsg or
        VhostUserRequest.CreateCryptoSession or
        VhostUserRequest.PostcopyAdvise or
        VhostUserRequest.PostcopyEnd or
        VhostUserRequest.GetInflightFd or
        VhostUserRequest.GetMaxMemSlots or
        VhostUserRequest.GetStatus;

    private static void RequireExactSize(ReadOnlySpan<byte> payload, int expected, string what)
    {
        if (payload.Length != expected)
        {
            throw new VhostUserProtocolException($"{what} payload must be {expected} bytes, got {payload.Length}");
        }
    }

    private static void RequireRoom(Span<byte> destination, int needed)
    {
        if (destination.Length < needed)
        {
            throw new ArgumentException($"{needed} bytes needed, {destination.Length} available", nameof(destination));
        }
    }
}
