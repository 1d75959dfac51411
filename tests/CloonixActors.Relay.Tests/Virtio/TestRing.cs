using CloonixActors.Relay.Tests.Memory;
using CloonixActors.Relay.Virtio;

namespace CloonixActors.Relay.Tests.Virtio;

/// <summary>
/// The driver's side of a split ring, written byte by byte into guest memory as a virtio driver would:
/// descriptor table, avail ring (with used_event) and used ring (with avail_event).
/// </summary>
internal sealed class TestRing
{
    public const ushort Next = 1;
    public const ushort Write = 2;
    public const ushort Indirect = 4;

    private readonly TestGuest _guest;
    private int _nextDescriptor;

    public TestRing(TestGuest guest, int size)
    {
        _guest = guest;
        Size = size;
        Desc = guest.AllocRing(16 * size);
        Avail = guest.AllocRing(6 + (2 * size));
        Used = guest.AllocRing(6 + (8 * size));
    }

    public int Size { get; }

    public ulong Desc { get; }

    public ulong Avail { get; }

    public ulong Used { get; }

    public VirtqueueAddresses Addresses => new(TestGuest.UserOf(Desc), TestGuest.UserOf(Avail), TestGuest.UserOf(Used));

    /// <summary>The driver's own avail index (what it publishes in avail->idx).</summary>
    public ushort AvailIdx
    {
        get => _guest.ReadU16(Avail + 2);
        set => _guest.WriteU16(Avail + 2, value);
    }

    public ushort AvailFlags
    {
        set => _guest.WriteU16(Avail, value);
    }

    public ushort UsedEvent
    {
        set => _guest.WriteU16(Avail + 4 + (ulong)(2 * Size), value);
    }

    public ushort UsedIdx
    {
        get => _guest.ReadU16(Used + 2);
        set => _guest.WriteU16(Used + 2, value);
    }

    public ushort UsedFlags => _guest.ReadU16(Used);

    public ushort AvailEvent
    {
        get => _guest.ReadU16(Used + 4 + (ulong)(8 * Size));
        set => _guest.WriteU16(Used + 4 + (ulong)(8 * Size), value);
    }

    public SplitVirtqueue CreateQueue(ulong features = 0, ushort lastAvailIdx = 0)
    {
        Assert.True(SplitVirtqueue.TryCreate(_guest.Memory, Size, Addresses, features, lastAvailIdx, out var queue, out var error), error.ToString());
        return queue;
    }

    public void SetDesc(int index, ulong addr, uint len, ushort flags = 0, ushort next = 0) =>
        WriteDescriptor(Desc + (ulong)(16 * index), addr, len, flags, next);

    public void WriteDescriptor(ulong at, ulong addr, uint len, ushort flags = 0, ushort next = 0)
    {
        _guest.WriteU64(at, addr);
        _guest.WriteU32(at + 8, len);
        _guest.WriteU16(at + 12, flags);
        _guest.WriteU16(at + 14, next);
    }

    /// <summary>
    /// Writes a chain of direct descriptors (taking table slots round-robin, as a driver recycling them would)
    /// and offers it; returns the head.
    /// </summary>
    public ushort AddChain(params (ulong Addr, int Len, bool Writable)[] buffers)
    {
        var head = (ushort)(_nextDescriptor % Size);
        for (var i = 0; i < buffers.Length; i++)
        {
            var index = (_nextDescriptor + i) % Size;
            var last = i == buffers.Length - 1;
            var flags = (ushort)((buffers[i].Writable ? Write : 0) | (last ? 0 : Next));
            SetDesc(index, buffers[i].Addr, (uint)buffers[i].Len, flags, (ushort)((index + 1) % Size));
        }
        _nextDescriptor += buffers.Length;
        Offer(head);
        return head;
    }

    /// <summary>Puts a head in the next avail slot and publishes it.</summary>
    public void Offer(ushort head)
    {
        var idx = AvailIdx;
        _guest.WriteU16(Avail + 4 + (ulong)(2 * (idx % Size)), head);
        AvailIdx = (ushort)(idx + 1);
    }

    public (uint Id, uint Len) UsedAt(int slot)
    {
        var at = Used + 4 + (ulong)(8 * (slot % Size));
        return (_guest.ReadU32(at), _guest.ReadU32(at + 4));
    }
}
