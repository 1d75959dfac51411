using System.Buffers.Binary;
using CloonixActors.Relay.Impairment;
using CloonixActors.Relay.Tests.Memory;
using CloonixActors.Relay.Virtio;

namespace CloonixActors.Relay.Tests.Virtio;

public sealed class ForwarderTests : IDisposable
{
    private const ulong Version1 = 1UL << VirtioFeatures.Version1;
    private const ulong Mrg = 1UL << VirtioFeatures.NetMrgRxbuf;
    private const ulong GuestCsum = 1UL << VirtioFeatures.NetGuestCsum;
    private const ulong GuestTso4 = 1UL << VirtioFeatures.NetGuestTso4;
    private const ulong GuestTso6 = 1UL << VirtioFeatures.NetGuestTso6;
    private const ulong GuestEcn = 1UL << VirtioFeatures.NetGuestEcn;
    private const ulong GuestUfo = 1UL << VirtioFeatures.NetGuestUfo;
    private const ulong GuestUso = (1UL << VirtioFeatures.NetGuestUso4) | (1UL << VirtioFeatures.NetGuestUso6);
    private const ulong EventIdx = 1UL << VirtioFeatures.RingEventIdx;
    /// <summary>What the Linux guest in relay-facts.md negotiated.</summary>
    private const ulong LinuxGuest = Version1 | Mrg | GuestCsum | GuestTso4 | GuestTso6 | (1UL << VirtioFeatures.NetCsum)
        | (1UL << VirtioFeatures.NetHostTso4) | (1UL << VirtioFeatures.NetHostTso6);

    private readonly TestGuest _guest = new();
    private readonly TestRing _tx;
    private readonly TestRing _rx;
    private readonly Recorder _observer = new();

    public ForwarderTests()
    {
        _tx = new TestRing(_guest, 16);
        _rx = new TestRing(_guest, 16);
    }

    public void Dispose()
    {
        Assert.True(_guest.Native.GuardsIntact());
        _guest.Dispose();
    }

    [Fact]
    public void A_frame_keeps_its_offload_header_and_lands_in_one_rx_chain()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest & ~Mrg);
        var frame = Frame(100, 1);
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = 34, CsumOffset = 16 };
        // The header itself split over two descriptors, the frame over two more.
        var txHead = Send(header, frame, 12, 5, 7, 30, 70);
        var rxHead = _rx.AddChain((_guest.AllocBuffer(40), 40, true), (_guest.AllocBuffer(2000), 2000, true));

        var result = forwarder.Forward(64);

        Assert.Equal(1, result.Frames);
        Assert.Equal(100, result.Bytes);
        Assert.Equal(0, result.TotalDropped);
        Assert.False(result.DestinationFull);
        Assert.Equal(1, _tx.UsedIdx);
        Assert.Equal((txHead, 0u), _tx.UsedAt(0));
        Assert.Equal(1, _rx.UsedIdx);
        Assert.Equal((rxHead, 112u), _rx.UsedAt(0));
        var (delivered, payload) = ReceivedAcross(rxHead, 112);
        Assert.Equal(header with { NumBuffers = 1 }, delivered);
        Assert.Equal(frame, payload);
        Assert.True(result.NotifySource);
        Assert.True(result.NotifyDestination);
    }

    [Fact]
    public void With_mrg_rxbuf_a_frame_fills_several_chains_and_num_buffers_counts_them()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        var frame = Frame(3000, 2);
        Send(default, frame, 12);
        var buffers = Enumerable.Range(0, 5).Select(_ => _guest.AllocBuffer(1024)).ToArray();
        foreach (var b in buffers)
        {
            _rx.AddChain((b, 1024, true));
        }

        var result = forwarder.Forward(64);

        Assert.Equal(1, result.Frames);
        Assert.Equal(3, _rx.UsedIdx);
        Assert.Equal(((uint)0, 1024u), _rx.UsedAt(0));
        Assert.Equal((1u, 1024u), _rx.UsedAt(1));
        Assert.Equal((2u, (uint)(3012 - 2048)), _rx.UsedAt(2));
        var header = VirtioNetHeader.Read(_guest.Read(buffers[0], 12));
        Assert.Equal(3, header.NumBuffers);
        var payload = _guest.Read(buffers[0] + 12, 1012).Concat(_guest.Read(buffers[1], 1024)).Concat(_guest.Read(buffers[2], 964));
        Assert.Equal(frame, payload);
        Assert.Equal(0, forwarder.HeldDestinationChains);
        Assert.Equal(2, forwarder.Destination.AvailableCount());
    }

    [Fact]
    public void The_header_shrinks_to_ten_bytes_for_a_legacy_receiver_and_grows_for_a_modern_one()
    {
        var forwarder = Create(LinuxGuest, GuestCsum);
        var frame = Frame(60, 3);
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = 20, CsumOffset = 6, NumBuffers = 77 };
        Send(header, frame, 12);
        var buffer = _guest.AllocBuffer(1600);
        _rx.AddChain((buffer, 1600, true));

        Assert.Equal(1, forwarder.Forward(1).Frames);
        Assert.Equal((0u, 70u), _rx.UsedAt(0));
        Assert.Equal(header with { NumBuffers = 0 }, VirtioNetHeader.Read(_guest.Read(buffer, 10)));
        Assert.Equal(frame, _guest.Read(buffer + 10, 60));

        using var other = new TestGuest();
        var legacyTx = new TestRing(other, 8);
        var modernRx = new TestRing(other, 8);
        var grow = new Forwarder(legacyTx.CreateQueue(), 0, modernRx.CreateQueue(Version1), Version1);
        var bytes = new byte[10 + 60];
        header.Write(bytes.AsSpan(0, 10));
        frame.CopyTo(bytes, 10);
        legacyTx.AddChain((other.AllocBuffer(bytes), bytes.Length, false));
        var rxBuffer = other.AllocBuffer(1600);
        modernRx.AddChain((rxBuffer, 1600, true));
        Assert.Equal(1, grow.Forward(1).Frames);
        Assert.Equal((0u, 72u), modernRx.UsedAt(0));
        // Without GUEST_CSUM on the receiver, the checksum is completed here and the flag cleared.
        Assert.Equal(new VirtioNetHeader { CsumStart = 20, CsumOffset = 6, NumBuffers = 1 }, VirtioNetHeader.Read(other.Read(rxBuffer, 12)));
        Assert.True(other.Native.GuardsIntact());
    }

    public static TheoryData<byte, ulong, bool> GsoCases => new()
    {
        { VirtioNetHeader.GsoTcpV4, GuestCsum | GuestTso4, true },
        { VirtioNetHeader.GsoTcpV4, GuestCsum | GuestTso6, false },
        { VirtioNetHeader.GsoTcpV4, GuestTso4, false },
        { VirtioNetHeader.GsoTcpV6, GuestCsum | GuestTso6, true },
        { VirtioNetHeader.GsoTcpV6, GuestCsum | GuestTso4, false },
        { VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn, GuestCsum | GuestTso4, false },
        { VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn, GuestCsum | GuestTso4 | GuestEcn, true },
        { VirtioNetHeader.GsoUdp, GuestCsum | GuestUfo, true },
        { VirtioNetHeader.GsoUdp, GuestCsum | GuestTso4, false },
        { VirtioNetHeader.GsoUdpL4, GuestCsum | GuestUso, true },
        { VirtioNetHeader.GsoUdpL4, GuestCsum | (1UL << VirtioFeatures.NetGuestUso4), false },
        { 2, GuestCsum | GuestTso4 | GuestTso6 | GuestUfo | GuestUso, false },
        { 0x7F, GuestCsum | GuestTso4 | GuestTso6 | GuestUfo | GuestUso, false },
    };

    [Theory]
    [MemberData(nameof(GsoCases))]
    public void A_gso_frame_goes_only_to_a_receiver_that_negotiated_its_segmentation(byte gsoType, ulong receiver, bool delivered)
    {
        var forwarder = Create(LinuxGuest, receiver | Version1);
        var frame = Frame(3000, 4);
        var header = new VirtioNetHeader
        {
            Flags = VirtioNetHeader.FlagNeedsCsum,
            GsoType = gsoType,
            HdrLen = 66,
            GsoSize = 1448,
            CsumStart = 34,
            CsumOffset = 16,
        };
        Send(header, frame, 12);
        var buffer = _guest.AllocBuffer(65536);
        _rx.AddChain((buffer, 65536, true));

        var result = forwarder.Forward(8);

        Assert.Equal(1, _tx.UsedIdx);
        if (delivered)
        {
            Assert.Equal(1, result.Frames);
            Assert.Equal(header with { NumBuffers = 1 }, VirtioNetHeader.Read(_guest.Read(buffer, 12)));
        }
        else
        {
            Assert.Equal(0, result.Frames);
            Assert.Equal(1, result.Dropped(DropReason.GsoNotSupported));
            Assert.Equal(1, forwarder.Totals.Dropped(DropReason.GsoNotSupported));
            // The receiver's buffer was not touched: it waits for the next frame.
            Assert.Equal(0, _rx.UsedIdx);
            Assert.Equal(0, forwarder.HeldDestinationChains);
            Assert.Equal(DropReason.GsoNotSupported, Assert.Single(_observer.Frames).Outcome);
        }
    }

    [Fact]
    public void A_partial_checksum_is_completed_for_a_receiver_without_guest_csum_even_across_buffers()
    {
        var forwarder = Create(LinuxGuest, Mrg | Version1);
        var frame = TcpFrame(40);
        Assert.False(TcpChecksumValid(frame));
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum | VirtioNetHeader.FlagDataValid, CsumStart = 34, CsumOffset = 16 };
        // Odd cuts on the sending side too.
        Send(header, frame, 12, 12, 33, 61);
        // 12 + 51 bytes: the checksum field (frame bytes 50 and 51) straddles the first two buffers.
        var first = _guest.AllocBuffer(63);
        var second = _guest.AllocBuffer(37);
        var third = _guest.AllocBuffer(37);
        _rx.AddChain((first, 63, true));
        _rx.AddChain((second, 37, true));
        _rx.AddChain((third, 37, true));

        var result = forwarder.Forward(8);

        Assert.Equal(1, result.Frames);
        Assert.Equal(1, result.ChecksumsComputed);
        Assert.Equal(3, _rx.UsedIdx);
        Assert.Equal((2u, 6u), _rx.UsedAt(2));
        var delivered = VirtioNetHeader.Read(_guest.Read(first, 12));
        Assert.Equal(0, delivered.Flags);
        Assert.Equal(3, delivered.NumBuffers);
        var received = _guest.Read(first + 12, 51).Concat(_guest.Read(second, 37)).Concat(_guest.Read(third, 6)).ToArray();
        Assert.True(TcpChecksumValid(received));
        Assert.Equal(frame[..50], received[..50]);
        Assert.Equal(frame[52..], received[52..]);
    }

    [Fact]
    public void A_partial_checksum_is_completed_for_a_legacy_receiver_with_one_buffer()
    {
        var forwarder = Create(LinuxGuest, 0);
        var frame = TcpFrame(1001);
        Send(new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = 34, CsumOffset = 16 }, frame, 12);
        var buffer = _guest.AllocBuffer(2048);
        _rx.AddChain((buffer, 2048, true));

        Assert.Equal(1, forwarder.Forward(8).ChecksumsComputed);
        Assert.Equal(0, VirtioNetHeader.Read(_guest.Read(buffer, 10)).Flags);
        Assert.True(TcpChecksumValid(_guest.Read(buffer + 10, frame.Length)));
    }

    [Theory]
    [InlineData(99, 0)]
    [InlineData(98, 1)]
    [InlineData(0, 99)]
    [InlineData(ushort.MaxValue, ushort.MaxValue)]
    public void Checksum_offsets_beyond_the_frame_drop_it(int start, int offset)
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        Send(new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = (ushort)start, CsumOffset = (ushort)offset }, Frame(100, 5), 12);
        _rx.AddChain((_guest.AllocBuffer(2048), 2048, true));

        var result = forwarder.Forward(8);

        Assert.Equal(1, result.Dropped(DropReason.InvalidChecksumOffsets));
        Assert.Equal(0, _rx.UsedIdx);
        Assert.Equal(1, _tx.UsedIdx);
    }

    [Fact]
    public void Data_valid_passes_only_to_a_receiver_with_guest_csum_and_unknown_flags_never()
    {
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagDataValid | VirtioNetHeader.FlagRscInfo | 0x40 };
        var forwarder = Create(LinuxGuest, LinuxGuest);
        Send(header, Frame(64, 6), 12);
        var buffer = _guest.AllocBuffer(2048);
        _rx.AddChain((buffer, 2048, true));
        forwarder.Forward(1);
        Assert.Equal(VirtioNetHeader.FlagDataValid, VirtioNetHeader.Read(_guest.Read(buffer, 12)).Flags);

        using var other = new TestGuest();
        var tx = new TestRing(other, 8);
        var rx = new TestRing(other, 8);
        var plain = new Forwarder(tx.CreateQueue(), LinuxGuest, rx.CreateQueue(), Version1);
        var bytes = new byte[12 + 64];
        header.Write(bytes.AsSpan(0, 12));
        tx.AddChain((other.AllocBuffer(bytes), bytes.Length, false));
        var rxBuffer = other.AllocBuffer(2048);
        rx.AddChain((rxBuffer, 2048, true));
        plain.Forward(1);
        Assert.Equal(0, VirtioNetHeader.Read(other.Read(rxBuffer, 12)).Flags);
    }

    [Fact]
    public void Without_rx_buffers_the_frame_waits_and_goes_once_buffers_arrive()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        var frame = Frame(500, 7);
        var head = Send(default, frame, 12);

        var stalled = forwarder.Forward(8);
        Assert.True(stalled.DestinationFull);
        Assert.Equal(0, stalled.Frames);
        Assert.True(forwarder.HasPendingFrame);
        Assert.Equal(0, _tx.UsedIdx);
        Assert.False(stalled.NotifySource);
        Assert.Empty(_observer.Frames);

        var buffer = _guest.AllocBuffer(2048);
        _rx.AddChain((buffer, 2048, true));
        var resumed = forwarder.Forward(8);
        Assert.Equal(1, resumed.Frames);
        Assert.False(forwarder.HasPendingFrame);
        Assert.Equal((head, 0u), _tx.UsedAt(0));
        Assert.Equal(frame, _guest.Read(buffer + 12, 500));
        Assert.Single(_observer.Frames);
    }

    [Fact]
    public void With_mrg_rxbuf_a_frame_short_of_buffers_holds_them_until_enough_arrive()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        var frame = Frame(2500, 8);
        Send(default, frame, 12);
        var buffers = Enumerable.Range(0, 3).Select(_ => _guest.AllocBuffer(1000)).ToArray();
        _rx.AddChain((buffers[0], 1000, true));
        _rx.AddChain((buffers[1], 1000, true));

        Assert.True(forwarder.Forward(8).DestinationFull);
        Assert.Equal(2, forwarder.HeldDestinationChains);
        Assert.Equal(0, _rx.UsedIdx);

        _rx.AddChain((buffers[2], 1000, true));
        var result = forwarder.Forward(8);
        Assert.Equal(1, result.Frames);
        Assert.Equal(3, VirtioNetHeader.Read(_guest.Read(buffers[0], 12)).NumBuffers);
        Assert.Equal(frame, _guest.Read(buffers[0] + 12, 988).Concat(_guest.Read(buffers[1], 1000)).Concat(_guest.Read(buffers[2], 512)));
        Assert.Equal(0, forwarder.HeldDestinationChains);
    }

    [Fact]
    public void Without_mrg_rxbuf_a_frame_larger_than_the_chain_is_dropped_and_the_chain_kept_for_the_next()
    {
        var forwarder = Create(LinuxGuest, Version1 | GuestCsum);
        Send(default, Frame(1500, 9), 12);
        var small = Frame(100, 10);
        Send(default, small, 12);
        var buffer = _guest.AllocBuffer(1000);
        _rx.AddChain((buffer, 1000, true));

        var result = forwarder.Forward(8);

        Assert.Equal(1, result.Dropped(DropReason.FrameTooLarge));
        Assert.Equal(1, result.Frames);
        Assert.Equal(1, _rx.UsedIdx);
        Assert.Equal((0u, 112u), _rx.UsedAt(0));
        Assert.Equal(small, _guest.Read(buffer + 12, 100));
        Assert.Equal(2, _tx.UsedIdx);
    }

    [Fact]
    public void With_mrg_rxbuf_a_frame_needing_more_buffers_than_the_ring_holds_is_dropped()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        Send(default, Frame(16 * 20, 11), 12);
        for (var i = 0; i < 16; i++)
        {
            _rx.AddChain((_guest.AllocBuffer(16), 16, true));
        }

        var result = forwarder.Forward(8);

        Assert.Equal(1, result.Dropped(DropReason.FrameTooLarge));
        Assert.Equal(16, forwarder.HeldDestinationChains);
        Assert.Equal(1, _tx.UsedIdx);
    }

    [Fact]
    public void A_frame_above_the_maximum_or_without_an_ethernet_header_is_dropped()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest, maxFrameLength: 1514);
        Send(default, Frame(1515, 12), 12);
        Send(default, Frame(13, 13), 12);
        var bytes = new byte[11];
        _tx.AddChain((_guest.AllocBuffer(bytes), bytes.Length, false));
        _rx.AddChain((_guest.AllocBuffer(4096), 4096, true));

        var result = forwarder.Forward(8);

        Assert.Equal(1, result.Dropped(DropReason.FrameTooLarge));
        Assert.Equal(2, result.Dropped(DropReason.TruncatedFrame));
        Assert.Equal(3, result.TotalDropped);
        Assert.Equal(3, _tx.UsedIdx);
        Assert.Equal(0, _rx.UsedIdx);
        Assert.Equal([1515, 13, 0], _observer.Frames.Select(f => f.Payload.Length));
    }

    [Fact]
    public void A_malformed_tx_chain_is_counted_and_the_next_frame_still_goes()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        _tx.AddChain((TestGuest.Gap, 100, false));
        var frame = Frame(64, 14);
        Send(default, frame, 12);
        var buffer = _guest.AllocBuffer(2048);
        _rx.AddChain((buffer, 2048, true));

        var result = forwarder.Forward(8);

        Assert.Equal(1, result.Dropped(DropReason.MalformedSourceChain));
        Assert.Equal(1, forwarder.Source.Stats.Errors(PopResult.BufferUnmapped));
        Assert.Equal(1, result.Frames);
        Assert.Equal(frame, _guest.Read(buffer + 12, 64));
        Assert.Equal(2, _tx.UsedIdx);
        Assert.Single(_observer.Frames);
    }

    [Fact]
    public void Unusable_rx_chains_are_returned_empty_and_skipped()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        var frame = Frame(64, 15);
        Send(default, frame, 12);
        var readable = _rx.AddChain((_guest.AllocBuffer(2048), 2048, false));
        var tiny = _rx.AddChain((_guest.AllocBuffer(8), 8, true));
        var unmapped = _rx.AddChain((TestGuest.Gap, 2048, true));
        var buffer = _guest.AllocBuffer(2048);
        var good = _rx.AddChain((buffer, 2048, true));

        var result = forwarder.Forward(8);

        Assert.Equal(1, result.Frames);
        Assert.Equal(3, result.BadDestinationChains);
        Assert.Equal(4, _rx.UsedIdx);
        Assert.Equal(new[] { (readable, 0u), (tiny, 0u), (unmapped, 0u), (good, 76u) }.Select(x => ((uint)x.Item1, x.Item2)),
            Enumerable.Range(0, 4).Select(_rx.UsedAt));
        Assert.Equal(frame, _guest.Read(buffer + 12, 64));
    }

    [Fact]
    public void The_observer_sees_the_frame_without_header_in_place_and_by_copy()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        var frame = Frame(300, 16);
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = 34, CsumOffset = 6 };
        Send(header, frame, 12, 3, 100, 100, 109);
        _rx.AddChain((_guest.AllocBuffer(2048), 2048, true));

        forwarder.Forward(8);

        var seen = Assert.Single(_observer.Frames);
        Assert.Equal(header, seen.Header);
        Assert.Equal(DropReason.None, seen.Outcome);
        Assert.Equal(frame, seen.Payload);
        Assert.Equal(frame, seen.Copied);
        // Header cut 3 + 9: the payload starts inside the second descriptor and spans three.
        Assert.Equal(3, seen.Pieces);
    }

    [Fact]
    public void ReturnHeld_gives_back_held_rx_chains_and_discards_the_pending_frame()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        var txHead = Send(default, Frame(2500, 17), 12);
        var rxHead = _rx.AddChain((_guest.AllocBuffer(1000), 1000, true));
        Assert.True(forwarder.Forward(8).DestinationFull);

        var result = forwarder.ReturnHeld();

        Assert.Equal(1, result.Dropped(DropReason.Discarded));
        Assert.Equal(1, forwarder.Totals.Dropped(DropReason.Discarded));
        Assert.False(forwarder.HasPendingFrame);
        Assert.Equal(0, forwarder.HeldDestinationChains);
        Assert.Equal((txHead, 0u), _tx.UsedAt(0));
        Assert.Equal((rxHead, 0u), _rx.UsedAt(0));
        Assert.Equal(1, _tx.UsedIdx);
        Assert.Equal(1, _rx.UsedIdx);
        Assert.True(result.NotifySource);
        Assert.Equal(DropReason.Discarded, Assert.Single(_observer.Frames).Outcome);
        Assert.Equal(_tx.AvailIdx, forwarder.Source.GetBase());
    }

    [Fact]
    public void Interrupts_follow_each_drivers_wishes()
    {
        var forwarder = Create(LinuxGuest | EventIdx, LinuxGuest);
        _tx.UsedEvent = 5;
        _rx.AvailFlags = 1;
        Send(default, Frame(64, 18), 12);
        _rx.AddChain((_guest.AllocBuffer(2048), 2048, true));

        // The first decision on an event-idx ring has no history and notifies; the receiver asked for none.
        var first = forwarder.Forward(8);
        Assert.True(first.NotifySource);
        Assert.False(first.NotifyDestination);

        Send(default, Frame(64, 19), 12);
        _rx.AvailFlags = 0;
        _rx.AddChain((_guest.AllocBuffer(2048), 2048, true));
        var second = forwarder.Forward(8);
        Assert.Equal(1, second.Frames);
        Assert.False(second.NotifySource);
        Assert.True(second.NotifyDestination);

        var idle = forwarder.Forward(8);
        Assert.False(idle.NotifySource);
        Assert.False(idle.NotifyDestination);
    }

    [Fact]
    public void Forward_stops_at_max_frames_and_totals_accumulate()
    {
        var forwarder = Create(LinuxGuest, LinuxGuest);
        for (var i = 0; i < 5; i++)
        {
            Send(default, Frame(100, (byte)i), 12);
            _rx.AddChain((_guest.AllocBuffer(2048), 2048, true));
        }

        Assert.Equal(3, forwarder.Forward(3).Frames);
        Assert.Equal(2, forwarder.Forward(3).Frames);
        Assert.Equal(0, forwarder.Forward(0).Frames);
        Assert.Equal(5, forwarder.Totals.Frames);
        Assert.Equal(500, forwarder.Totals.Bytes);
    }

    [Fact]
    public void A_delay_returns_the_tx_chain_at_once_and_delivers_the_frame_only_when_its_time_comes()
    {
        var now = TimeSpan.FromSeconds(10);
        var forwarder = new Forwarder(_tx.CreateQueue(LinuxGuest), LinuxGuest, _rx.CreateQueue(LinuxGuest), LinuxGuest, _observer, clock: () => now);
        forwarder.SetImpairment(new ImpairmentSettings(DelayMs: 30), new Random(1));
        var frame = Frame(200, 3);
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = 34, CsumOffset = 16 };
        Send(header, frame, 12);
        var rxHead = _rx.AddChain((_guest.AllocBuffer(2048), 2048, true));

        var first = forwarder.Forward(64);
        Assert.Equal(0, first.Frames);
        Assert.Equal(1, _tx.UsedIdx);
        Assert.Equal(0, _rx.UsedIdx);
        Assert.Equal(TimeSpan.FromMilliseconds(30), forwarder.NextRelease);

        now += TimeSpan.FromMilliseconds(29);
        Assert.Equal(0, forwarder.Forward(64).Frames);
        now += TimeSpan.FromMilliseconds(1);
        var due = forwarder.Forward(64);

        Assert.Equal(1, due.Frames);
        Assert.True(due.NotifyDestination);
        var (delivered, payload) = ReceivedAcross(rxHead, 212);
        Assert.Equal(header with { NumBuffers = 1 }, delivered);
        Assert.Equal(frame, payload);
        Assert.Null(forwarder.NextRelease);
    }

    [Fact]
    public void Loss_drops_and_counts_frames_and_removing_the_impairment_lets_held_frames_out_first_in_order()
    {
        var now = TimeSpan.Zero;
        var forwarder = new Forwarder(_tx.CreateQueue(LinuxGuest), LinuxGuest, _rx.CreateQueue(LinuxGuest), LinuxGuest, _observer, clock: () => now);
        forwarder.SetImpairment(new ImpairmentSettings(LossPercent: 100), new Random(1));
        Send(default, Frame(100, 1), 12);
        Assert.Equal(1, forwarder.Forward(64).Dropped(DropReason.ImpairmentLoss));

        forwarder.SetImpairment(new ImpairmentSettings(DelayMs: 1000), new Random(1));
        Send(default, Frame(100, 2), 12);
        Send(default, Frame(100, 3), 12);
        var heads = Enumerable.Range(0, 3).Select(_ => _rx.AddChain((_guest.AllocBuffer(2048), 2048, true))).ToArray();
        Assert.Equal(0, forwarder.Forward(64).Frames);

        forwarder.SetImpairment(null);
        Send(default, Frame(100, 4), 12);
        Assert.Equal(3, forwarder.Forward(64).Frames);
        Assert.Equal(Frame(100, 2), ReceivedAcross(heads[0], 112).Payload);
        Assert.Equal(Frame(100, 3), ReceivedAcross(heads[1], 112).Payload);
        Assert.Equal(Frame(100, 4), ReceivedAcross(heads[2], 112).Payload);
        Assert.Equal(4, _tx.UsedIdx);
    }

    [Fact]
    public void A_rate_cap_spaces_frames_by_their_size()
    {
        var now = TimeSpan.Zero;
        var forwarder = new Forwarder(_tx.CreateQueue(LinuxGuest), LinuxGuest, _rx.CreateQueue(LinuxGuest), LinuxGuest, _observer, clock: () => now);
        // 8 Mbit/s: a 1000-byte frame takes 1 ms on the wire.
        forwarder.SetImpairment(new ImpairmentSettings(RateMbit: 8), new Random(1));
        for (byte i = 0; i < 3; i++)
        {
            Send(default, Frame(1000, i), 12);
            _rx.AddChain((_guest.AllocBuffer(2048), 2048, true));
        }

        Assert.Equal(0, forwarder.Forward(64).Frames);
        now = TimeSpan.FromMilliseconds(1);
        Assert.Equal(1, forwarder.Forward(64).Frames);
        now = TimeSpan.FromMilliseconds(2.5);
        Assert.Equal(1, forwarder.Forward(64).Frames);
        now = TimeSpan.FromMilliseconds(3);
        Assert.Equal(1, forwarder.Forward(64).Frames);
    }

    private Forwarder Create(ulong sourceFeatures, ulong destinationFeatures, int maxFrameLength = Forwarder.DefaultMaxFrameLength) =>
        new(_tx.CreateQueue(sourceFeatures), sourceFeatures, _rx.CreateQueue(destinationFeatures), destinationFeatures, _observer, maxFrameLength);

    /// <summary>Queues header + frame on the TX ring, cut into descriptors of the given lengths (the rest in a last one).</summary>
    private ushort Send(VirtioNetHeader header, byte[] frame, int headerLength, params int[] cuts)
    {
        var bytes = new byte[headerLength + frame.Length];
        header.Write(bytes.AsSpan(0, headerLength));
        frame.CopyTo(bytes, headerLength);
        var buffers = new List<(ulong, int, bool)>();
        var at = 0;
        foreach (var cut in cuts.Append(bytes.Length))
        {
            var length = Math.Min(cut, bytes.Length - at);
            if (length > 0)
            {
                buffers.Add((_guest.AllocBuffer(bytes.AsSpan(at, length)), length, false));
                at += length;
            }
        }
        return _tx.AddChain([.. buffers]);
    }

    /// <summary>Reads back what the device wrote into a multi-descriptor RX chain.</summary>
    private (VirtioNetHeader Header, byte[] Payload) ReceivedAcross(ushort head, int length)
    {
        var bytes = new List<byte>();
        int index = head;
        while (bytes.Count < length)
        {
            var desc = _rx.Desc + (ulong)(16 * index);
            var addr = BinaryPrimitives.ReadUInt64LittleEndian(_guest.Read(desc, 8));
            var len = (int)_guest.ReadU32(desc + 8);
            bytes.AddRange(_guest.Read(addr, Math.Min(len, length - bytes.Count)));
            index = _guest.ReadU16(desc + 14);
        }
        var all = bytes.ToArray();
        return (VirtioNetHeader.Read(all.AsSpan(0, 12)), all[12..]);
    }

    private static byte[] Frame(int length, byte seed) => Enumerable.Range(0, length).Select(i => (byte)((i * 7) + seed)).ToArray();

    /// <summary>An Ethernet/IPv4/TCP frame whose checksum field holds the pseudo-header sum, as Linux leaves it for CHECKSUM_PARTIAL.</summary>
    private static byte[] TcpFrame(int payloadLength)
    {
        var f = new byte[14 + 20 + 20 + payloadLength];
        f[12] = 0x08;
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)(40 + payloadLength));
        f[22] = 64;
        f[23] = 6;
        f.AsSpan(26, 4).Fill(10);
        f[29] = 1;
        f.AsSpan(30, 4).Fill(10);
        f[33] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), 80);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(38), 0x01020304);
        f[46] = 0x50;
        f[47] = 0x18;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(48), 64240);
        for (var i = 0; i < payloadLength; i++)
        {
            f[54 + i] = (byte)(i * 13);
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(50), Fold(PseudoHeaderSum(f)));
        return f;
    }

    private static bool TcpChecksumValid(byte[] frame) => Fold(PseudoHeaderSum(frame) + Sum(frame.AsSpan(34))) == 0xFFFF;

    private static ulong PseudoHeaderSum(byte[] f) => Sum(f.AsSpan(26, 8)) + 6 + (ulong)(f.Length - 34);

    private static ulong Sum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        for (var i = 0; i < data.Length; i += 2)
        {
            sum += (ulong)(data[i] << 8) + (i + 1 < data.Length ? data[i + 1] : 0u);
        }
        return sum;
    }

    private static ushort Fold(ulong sum)
    {
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)sum;
    }

    private sealed class Recorder : IFrameObserver
    {
        public List<(VirtioNetHeader Header, byte[] Payload, byte[] Copied, int Pieces, DropReason Outcome)> Frames { get; } = [];

        public void OnFrame(in VirtioNetHeader header, FramePayload payload, DropReason outcome)
        {
            var pieces = new List<byte>();
            var count = 0;
            foreach (var piece in payload)
            {
                pieces.AddRange(piece.ToArray());
                count++;
            }
            var copied = new byte[payload.Length];
            Assert.Equal(payload.Length, payload.CopyTo(copied));
            Frames.Add((header, pieces.ToArray(), copied, count, outcome));
        }
    }
}
