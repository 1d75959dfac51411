using System.Net.Sockets;
using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Relay.Tests.VhostUser;

/// <summary>The back-end's state machine, driven over a real unix socket by a scripted front-end.</summary>
public sealed class VhostUserBackendTests : IDisposable
{
    private const VirtioFeatures DriverFeatures =
        VirtioFeatures.Version1 | VirtioFeatures.NetMrgRxbuf | VirtioFeatures.NetCsum | VirtioFeatures.ProtocolFeatures;

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"vhu-test-{Guid.NewGuid():N}.sock");
    private readonly List<IDisposable> _disposables = [];
    private readonly List<int> _fds = [];

    public void Dispose()
    {
        for (var i = _disposables.Count - 1; i >= 0; i--)
        {
            _disposables[i].Dispose();
        }

        foreach (var fd in _fds)
        {
            LibC.CloseFd(fd);
        }

        Assert.False(File.Exists(_path), "the back-end must remove its socket file");
    }

    [Fact]
    public void Handshake_offers_net_features_and_reply_ack_with_reply_flags_0x5()
    {
        var (backend, _) = StartBackend();
        using var frontend = FakeFrontend.Connect(_path);

        var features = (VirtioFeatures)frontend.Get(VhostUserRequest.GetFeatures);
        var protocol = (VhostUserProtocolFeatures)frontend.Get(VhostUserRequest.GetProtocolFeatures);

        Assert.Equal(VhostUserBackend.BaseFeatures, features);
        Assert.True(features.HasFlag(VirtioFeatures.Version1 | VirtioFeatures.NetMrgRxbuf | VirtioFeatures.ProtocolFeatures));
        Assert.False(features.HasFlag(VirtioFeatures.RingEventIdx));
        Assert.False(features.HasFlag(VirtioFeatures.RingIndirectDesc));
        Assert.Equal(VhostUserProtocolFeatures.ReplyAck, protocol);
        Assert.Equal(0UL, frontend.AckU64(VhostUserRequest.SetProtocolFeatures, (ulong)VhostUserProtocolFeatures.ReplyAck));
        Assert.Equal(0UL, frontend.Ack(VhostUserRequest.SetOwner, []));
        Assert.Equal(1UL, frontend.Get(VhostUserRequest.GetQueueNum));
        Assert.True(backend.HasOwner);
        Assert.Equal(VhostUserProtocolFeatures.ReplyAck, backend.AckedProtocolFeatures);
    }

    [Fact]
    public void Event_idx_and_indirect_descriptors_are_offered_only_when_asked()
    {
        StartBackend(new VhostUserBackendOptions { SocketPath = _path, OfferEventIdx = true, OfferIndirectDescriptors = true });
        using var frontend = FakeFrontend.Connect(_path);

        var features = (VirtioFeatures)frontend.Get(VhostUserRequest.GetFeatures);

        Assert.Equal(VhostUserBackend.BaseFeatures | VirtioFeatures.RingEventIdx | VirtioFeatures.RingIndirectDesc, features);
    }

    [Fact]
    public unsafe void Rings_start_once_they_have_memory_size_addresses_kick_and_enable()
    {
        var (backend, events) = StartBackend();
        using var memory = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        Negotiate(frontend);
        Assert.Equal(0UL, frontend.AckMemTable(memory.Regions, [memory.Fd, memory.Fd]));

        for (var ring = 0u; ring < 2; ring++)
        {
            Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringNum, ring, 256));
            Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringBase, ring, 0));
            Assert.Equal(0UL, frontend.AckAddress(memory.RingAddress(ring)));
            Assert.Equal(0UL, frontend.AckFile(VhostUserRequest.SetVringKick, ring, NewEventFd()));
            Assert.Equal(0UL, frontend.AckFile(VhostUserRequest.SetVringCall, ring, NewEventFd()));
            Assert.False(backend.GetQueueInfo((int)ring).Started, "protocol features negotiated: disabled until SET_VRING_ENABLE");
            Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringEnable, ring, 1));
        }

        Assert.Equal([0, 1], events.Ready.Select(s => s.Index));
        for (var ring = 0; ring < 2; ring++)
        {
            var state = backend.GetQueueState(ring)!;
            var address = memory.RingAddress((uint)ring);
            Assert.Equal(256, state.Size);
            Assert.Equal(address, state.Address);
            Assert.True(state.KickFd >= 0);
            Assert.True(state.CallFd >= 0);
            Assert.Equal(DriverFeatures, state.Features);

            // The ring pointers land where the "guest" wrote: the back-end's mapping is the same memory.
            *(ulong*)memory.Host(address.DescriptorUserAddr) = 0xd000 + (ulong)ring;
            *(ulong*)memory.Host(address.AvailableUserAddr) = 0xa000 + (ulong)ring;
            *(ulong*)memory.Host(address.UsedUserAddr) = 0x0000 + (ulong)ring;
            using (backend.DataPathGate.EnterScope())
            {
                Assert.Equal(0xd000 + (ulong)ring, *(ulong*)state.Descriptors);
                Assert.Equal(0xa000 + (ulong)ring, *(ulong*)state.Available);
                Assert.Equal(0x0000 + (ulong)ring, *(ulong*)state.Used);
                Assert.True(state.Memory.TryTranslateGuest(memory.Regions[ring].GuestPhysAddr + 0x1000, 16, out var desc));
                Assert.Equal(state.Descriptors, desc);
            }

            var info = backend.GetQueueInfo(ring);
            Assert.True(info.Started && info.Enabled && info.KickSet);
        }

        Assert.Single(events.Tables);
        Assert.Equal(2, events.Tables[0]!.Regions.Count);
    }

    [Fact]
    public void Get_vring_base_stops_the_ring_and_answers_the_data_paths_last_avail_index()
    {
        var (backend, events) = StartBackend();
        backend.QueueStopped += (_, e) => e.LastAvailIndex = (ushort)(40 + e.Index);
        using var memory = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        StartRings(frontend, memory);

        var reply = frontend.GetVringBase(1);

        Assert.Equal(new VringState(1, 41), reply);
        Assert.Equal((1, QueueStopReason.GetVringBase), Assert.Single(events.Stopped));
        var info = backend.GetQueueInfo(1);
        Assert.False(info.Started);
        Assert.False(info.KickSet);
        Assert.Equal(41, info.Base);
        Assert.True(backend.GetQueueInfo(0).Started);

        // Restarting (QEMU sends a new kick) resumes from where the data path stopped.
        Assert.Equal(0UL, frontend.AckFile(VhostUserRequest.SetVringKick, 1, NewEventFd()));
        Assert.Equal(41, backend.GetQueueState(1)!.Base);
    }

    [Fact]
    public void Get_vring_base_of_a_ring_never_started_answers_its_base()
    {
        StartBackend();
        using var frontend = FakeFrontend.Connect(_path);
        Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringBase, 0, 7));

        Assert.Equal(new VringState(0, 7), frontend.GetVringBase(0));
    }

    [Fact]
    public void A_new_memory_table_hands_running_rings_over_again_and_unmaps_the_old_one()
    {
        var (backend, events) = StartBackend();
        using var memory = new FakeGuestMemory();
        using var memory2 = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        StartRings(frontend, memory);
        var oldTable = backend.Memory!;
        var oldState = backend.GetQueueState(0)!;

        Assert.Equal(0UL, frontend.AckMemTable(memory2.Regions, [memory2.Fd, memory2.Fd]));

        Assert.True(oldTable.IsDisposed);
        Assert.Equal(
            [(0, QueueStopReason.MemoryTableChanged), (1, QueueStopReason.MemoryTableChanged)],
            events.Stopped);
        var newState = backend.GetQueueState(0)!;
        Assert.NotEqual(oldState.Descriptors, newState.Descriptors);
        Assert.Same(backend.Memory, newState.Memory);
        Assert.Equal(4, events.Ready.Count);
    }

    [Fact]
    public void A_new_call_descriptor_on_a_running_ring_is_handed_over_and_the_old_one_closed()
    {
        var (backend, events) = StartBackend();
        using var memory = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        var (read, write) = TestNative.CreatePipe();
        _fds.Add(read);
        StartRings(frontend, memory);
        Assert.Equal(0UL, frontend.AckFile(VhostUserRequest.SetVringCall, 0, write));
        LibC.CloseFd(write);

        Assert.Equal(0UL, frontend.AckFile(VhostUserRequest.SetVringCall, 0, NewEventFd()));

        Assert.True(TestNative.WaitWriteEndsClosed(read, FakeFrontend.Timeout), "the replaced call descriptor must be closed");
        Assert.Equal([(0, QueueStopReason.Reconfigured), (0, QueueStopReason.Reconfigured)], events.Stopped);
        Assert.True(backend.GetQueueInfo(0).Started);
    }

    [Fact]
    public void Duplicate_enables_do_not_restart_a_running_ring()
    {
        var (_, events) = StartBackend();
        using var memory = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        StartRings(frontend, memory);

        Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringEnable, 0, 1));
        Assert.Empty(events.Stopped);

        Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringEnable, 0, 0));
        Assert.Equal((0, QueueStopReason.Disabled), Assert.Single(events.Stopped));
    }

    [Fact]
    public void Refused_requests_are_nacked_and_leave_the_session_usable()
    {
        var (backend, _) = StartBackend();
        using var frontend = FakeFrontend.Connect(_path);
        Negotiate(frontend);

        Assert.Equal(1UL, frontend.AckState(VhostUserRequest.SetVringNum, 5, 256));
        Assert.Equal(1UL, frontend.AckState(VhostUserRequest.SetVringNum, 0, 3));
        Assert.Equal(1UL, frontend.AckState(VhostUserRequest.SetVringNum, 0, 65536));
        Assert.Equal(1UL, frontend.AckState(VhostUserRequest.SetVringNum, 0, 0));
        Assert.Equal(1UL, frontend.AckState(VhostUserRequest.SetVringEnable, 0, 2));
        Assert.Equal(1UL, frontend.AckState(VhostUserRequest.SetVringBase, 0, 0x10000));
        Assert.Equal(1UL, frontend.AckU64(VhostUserRequest.SetFeatures, (ulong)VirtioFeatures.RingPacked));
        Assert.Equal(1UL, frontend.AckU64(VhostUserRequest.SetProtocolFeatures, (ulong)VhostUserProtocolFeatures.Mq));
        Assert.Equal(1UL, frontend.Ack(VhostUserRequest.SetFeatures, new byte[4]));
        Assert.Equal(1UL, frontend.Ack(VhostUserRequest.SetVringAddr, new byte[32]));
        Assert.Equal(1UL, frontend.Ack((VhostUserRequest)999, new byte[100]));
        Assert.Equal(1UL, frontend.Ack(VhostUserRequest.SetLogBase, new byte[16]));
        Assert.Equal(1UL, frontend.Ack(VhostUserRequest.SetConfig, new byte[16]));
        Assert.Equal(1UL, frontend.AckU64(VhostUserRequest.NetSetMtu, 20));
        Assert.Equal(0UL, frontend.AckU64(VhostUserRequest.NetSetMtu, 9000));

        // Unknown requests without need-reply are dropped silently; the stream stays in sync.
        frontend.Send((VhostUserRequest)77, new byte[40]);
        Assert.Equal((ulong)VhostUserBackend.BaseFeatures, frontend.Get(VhostUserRequest.GetFeatures));
        Assert.Equal(DriverFeatures, backend.AckedFeatures);
        Assert.Equal(0u, backend.GetQueueInfo(0).Size);
        Assert.Equal(9000u, backend.Mtu);
    }

    [Fact]
    public void Get_config_is_refused_with_the_specs_empty_reply()
    {
        StartBackend();
        using var frontend = FakeFrontend.Connect(_path);

        frontend.Send(VhostUserRequest.GetConfig, new byte[12 + 6]);
        var reply = frontend.ReceiveReply(VhostUserRequest.GetConfig);

        Assert.Equal(0u, reply.Header.Size);
        Assert.Equal((ulong)VhostUserBackend.BaseFeatures, frontend.Get(VhostUserRequest.GetFeatures));
    }

    [Fact]
    public void Descriptors_the_back_end_does_not_keep_are_closed()
    {
        StartBackend();
        using var frontend = FakeFrontend.Connect(_path);
        var pipes = Enumerable.Range(0, 3).Select(_ => TestNative.CreatePipe()).ToArray();
        _fds.AddRange(pipes.Select(p => p.Read));
        Span<byte> payload = stackalloc byte[8];

        // A kick with the no-fd flag and a descriptor anyway; a call for a ring that does not exist;
        // a request that takes no descriptor at all.
        VhostUserCodec.WriteVringFile(payload, new VringFile(0, NoFd: true));
        Assert.Equal(0UL, frontend.Ack(VhostUserRequest.SetVringKick, payload, [pipes[0].Write]));
        VhostUserCodec.WriteVringFile(payload, new VringFile(7, NoFd: false));
        Assert.Equal(1UL, frontend.Ack(VhostUserRequest.SetVringCall, payload, [pipes[1].Write]));
        Assert.Equal(0UL, frontend.Ack(VhostUserRequest.SetOwner, [], [pipes[2].Write]));

        foreach (var (read, write) in pipes)
        {
            LibC.CloseFd(write);
            Assert.True(TestNative.WaitWriteEndsClosed(read, FakeFrontend.Timeout), "a received descriptor was kept");
        }
    }

    [Fact]
    public void A_memory_table_whose_descriptors_do_not_match_its_regions_is_refused_and_its_descriptors_closed()
    {
        var (backend, _) = StartBackend();
        using var memory = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        var (read, write) = TestNative.CreatePipe();
        _fds.Add(read);

        Assert.Equal(1UL, frontend.AckMemTable(memory.Regions[..1], [memory.Fd, write]));
        LibC.CloseFd(write);

        Assert.True(TestNative.WaitWriteEndsClosed(read, FakeFrontend.Timeout));
        Assert.Null(backend.Memory);
        Assert.Equal(0UL, frontend.AckMemTable(memory.Regions, [memory.Fd, memory.Fd]));
        Assert.NotNull(backend.Memory);
    }

    [Fact]
    public void Overlapping_or_unmappable_regions_are_refused()
    {
        var (backend, _) = StartBackend();
        using var memory = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        MemoryRegionDescription[] overlapping = [memory.Regions[0], memory.Regions[0] with { UserAddr = 0x1000 }];
        MemoryRegionDescription[] huge = [memory.Regions[0] with { Size = ulong.MaxValue - 10 }];
        MemoryRegionDescription[] empty = [memory.Regions[0] with { Size = 0 }];
        MemoryRegionDescription[] beyondItsFile = [memory.Regions[1] with { Size = 0x80001 }];
        var (read, write) = TestNative.CreatePipe();
        _fds.Add(read);
        _fds.Add(write);

        Assert.Equal(1UL, frontend.AckMemTable(overlapping, [memory.Fd, memory.Fd]));
        Assert.Equal(1UL, frontend.AckMemTable(huge, [memory.Fd]));
        Assert.Equal(1UL, frontend.AckMemTable(empty, [memory.Fd]));
        Assert.Equal(1UL, frontend.AckMemTable(beyondItsFile, [memory.Fd]));
        Assert.Contains("file", backend.LastError, StringComparison.Ordinal);
        Assert.Equal(1UL, frontend.AckMemTable(memory.Regions[..1], [write]));
        Assert.Null(backend.Memory);
    }

    [Fact]
    public void Rings_outside_guest_memory_do_not_start()
    {
        var (backend, events) = StartBackend();
        using var memory = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        Negotiate(frontend);
        Assert.Equal(0UL, frontend.AckMemTable(memory.Regions, [memory.Fd, memory.Fd]));
        Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringNum, 0, 256));

        // The used ring runs past the end of region 0 (a ring must lie within one region).
        var address = memory.RingAddress(0) with { UsedUserAddr = memory.Regions[0].UserAddr + memory.Regions[0].Size - 64 };
        Assert.Equal(0UL, frontend.AckAddress(address));
        Assert.Equal(0UL, frontend.AckFile(VhostUserRequest.SetVringKick, 0, NewEventFd()));
        Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringEnable, 0, 1));

        Assert.False(backend.GetQueueInfo(0).Started);
        Assert.Empty(events.Ready);
        Assert.Contains("used ring", backend.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public void An_absurd_size_ends_the_session_cleanly_and_the_next_front_end_is_served()
    {
        var (backend, events) = StartBackend();
        using (var hostile = FakeFrontend.Connect(_path))
        {
            hostile.SendRaw(VhostUserRequest.SetMemTable, VhostUserHeader.Version, 0xffff_ffff, []);

            Assert.True(hostile.WaitClosed());
        }

        Assert.True(events.WaitDisconnects(1));
        Assert.Contains("size", events.DisconnectReasons[0], StringComparison.Ordinal);
        using var frontend = FakeFrontend.Connect(_path);
        Assert.Equal((ulong)VhostUserBackend.BaseFeatures, frontend.Get(VhostUserRequest.GetFeatures));
        Assert.Equal(2, backend.SessionCount);
    }

    [Fact]
    public void A_wrong_version_ends_the_session()
    {
        var (_, events) = StartBackend();
        using var hostile = FakeFrontend.Connect(_path);

        hostile.SendRaw(VhostUserRequest.GetFeatures, 0x2, 0, []);

        Assert.True(hostile.WaitClosed());
        Assert.True(events.WaitDisconnects(1));
        Assert.Contains("version", events.DisconnectReasons[0], StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_request_that_needs_its_own_reply_ends_the_session()
    {
        var (_, events) = StartBackend();
        using var frontend = FakeFrontend.Connect(_path);
        Span<byte> payload = stackalloc byte[8];
        VhostUserCodec.WriteVringState(payload, new VringState(9, 0));

        frontend.Send(VhostUserRequest.GetVringBase, payload);

        Assert.True(frontend.WaitClosed());
        Assert.True(events.WaitDisconnects(1));
    }

    [Fact]
    public void More_than_eight_descriptors_end_the_session_and_all_are_closed()
    {
        var (_, events) = StartBackend();
        using var frontend = FakeFrontend.Connect(_path);
        var pipe = TestNative.CreatePipe();
        _fds.Add(pipe.Read);
        var many = Enumerable.Repeat(pipe.Write, 8).ToArray();

        // Eight with the header and one more with the payload: nine for one message.
        frontend.SendRaw(VhostUserRequest.SetOwner, VhostUserHeader.Version, 8, [], many);
        Assert.True(SendWithDescriptor(frontend, pipe.Write));
        LibC.CloseFd(pipe.Write);

        Assert.True(frontend.WaitClosed());
        Assert.True(events.WaitDisconnects(1));
        Assert.True(TestNative.WaitWriteEndsClosed(pipe.Read, FakeFrontend.Timeout));
    }

    [Fact]
    public void A_front_end_that_dies_mid_message_is_a_clean_disconnect()
    {
        var (backend, events) = StartBackend();
        using (var frontend = FakeFrontend.Connect(_path))
        {
            frontend.SendRaw(VhostUserRequest.SetFeatures, VhostUserHeader.Version, 8, new byte[4]);
        }

        Assert.True(events.WaitDisconnects(1));
        Assert.False(backend.IsConnected);
        Assert.Contains("payload", events.DisconnectReasons[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Disconnect_stops_the_rings_unmaps_memory_and_forgets_the_session()
    {
        var (backend, events) = StartBackend();
        using var memory = new FakeGuestMemory();
        MemoryTable table;
        using (var frontend = FakeFrontend.Connect(_path))
        {
            StartRings(frontend, memory);
            table = backend.Memory!;
        }

        Assert.True(events.WaitDisconnects(1));
        Assert.Equal([(0, QueueStopReason.Disconnected), (1, QueueStopReason.Disconnected)], events.Stopped);
        Assert.True(table.IsDisposed);
        Assert.Null(backend.Memory);
        Assert.Null(events.Tables[^1]);
        Assert.Equal(VirtioFeatures.None, backend.AckedFeatures);
        Assert.False(backend.GetQueueInfo(0).Enabled);
        Assert.Equal(-1, backend.GetQueueInfo(0).KickFd);
    }

    [Fact]
    public void Dispose_stops_running_rings_and_removes_the_socket()
    {
        var (backend, events) = StartBackend();
        using var memory = new FakeGuestMemory();
        using var frontend = FakeFrontend.Connect(_path);
        StartRings(frontend, memory);

        backend.Dispose();

        Assert.Equal([(0, QueueStopReason.Disposed), (1, QueueStopReason.Disposed)], events.Stopped);
        Assert.False(File.Exists(_path));
        Assert.True(frontend.WaitClosed());
    }

    [Fact]
    public void Client_mode_connects_to_a_served_path_retrying_until_it_appears()
    {
        var (backend, events) = StartBackend(new VhostUserBackendOptions
        {
            SocketPath = _path,
            Mode = VhostUserSocketMode.Client,
            ReconnectInterval = TimeSpan.FromMilliseconds(50),
        });
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(_path));
            listener.Listen(1);
            Assert.True(listener.Poll(FakeFrontend.Timeout, SelectMode.SelectRead), "the back-end did not connect");
            using var frontend = FakeFrontend.Adopt(listener.Accept());

            Assert.Equal((ulong)VhostUserBackend.BaseFeatures, frontend.Get(VhostUserRequest.GetFeatures));
            Assert.True(backend.IsConnected);
        }
        finally
        {
            File.Delete(_path);
        }

        Assert.True(events.WaitDisconnects(1));
    }

    [Fact]
    public void A_stale_socket_file_is_replaced_but_a_served_one_is_not_taken()
    {
        // What a crashed process leaves behind (the BCL removes the file of a socket it disposes, so the
        // leftover is made by hand): nobody answers on it.
        File.WriteAllBytes(_path, []);
        StartBackend();
        using var frontend = FakeFrontend.Connect(_path);
        Assert.Equal((ulong)VhostUserBackend.BaseFeatures, frontend.Get(VhostUserRequest.GetFeatures));

        using var second = new VhostUserBackend(new VhostUserBackendOptions { SocketPath = _path });
        Assert.Throws<IOException>(second.Start);
    }

    private (VhostUserBackend Backend, EventLog Events) StartBackend(VhostUserBackendOptions? options = null)
    {
        var backend = new VhostUserBackend(options ?? new VhostUserBackendOptions { SocketPath = _path, Name = "test" });
        _disposables.Add(backend);
        var events = new EventLog(backend);
        backend.Start();
        return (backend, events);
    }

    private int NewEventFd()
    {
        var fd = TestNative.CreateEventFd();
        _fds.Add(fd);
        return fd;
    }

    private static void Negotiate(FakeFrontend frontend)
    {
        _ = frontend.Get(VhostUserRequest.GetFeatures);
        _ = frontend.Get(VhostUserRequest.GetProtocolFeatures);
        Assert.Equal(0UL, frontend.AckU64(VhostUserRequest.SetProtocolFeatures, (ulong)VhostUserProtocolFeatures.ReplyAck));
        Assert.Equal(0UL, frontend.Ack(VhostUserRequest.SetOwner, []));
        Assert.Equal(0UL, frontend.AckU64(VhostUserRequest.SetFeatures, (ulong)DriverFeatures));
    }

    /// <summary>QEMU's order at driver start: features, memory, then per ring NUM, BASE, ADDR, KICK, CALL, ENABLE.</summary>
    private void StartRings(FakeFrontend frontend, FakeGuestMemory memory)
    {
        Negotiate(frontend);
        Assert.Equal(0UL, frontend.AckMemTable(memory.Regions, [memory.Fd, memory.Fd]));
        for (var ring = 0u; ring < 2; ring++)
        {
            Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringNum, ring, 256));
            Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringBase, ring, 0));
            Assert.Equal(0UL, frontend.AckAddress(memory.RingAddress(ring)));
            Assert.Equal(0UL, frontend.AckFile(VhostUserRequest.SetVringKick, ring, NewEventFd()));
            Assert.Equal(0UL, frontend.AckFile(VhostUserRequest.SetVringCall, ring, NewEventFd()));
            Assert.Equal(0UL, frontend.AckState(VhostUserRequest.SetVringEnable, ring, 1));
        }
    }

    /// <summary>Sends the 8-byte payload of the previous header with one more descriptor riding on it.</summary>
    private static bool SendWithDescriptor(FakeFrontend frontend, int fd)
    {
        try
        {
            frontend.SendRaw(VhostUserRequest.None, 0, 0, [], [fd]);
            return true;
        }
        catch (Xunit.Sdk.XunitException)
        {
            // The back-end may already have hung up: the descriptors of the header were enough.
            return true;
        }
    }

    /// <summary>Records what the back-end raised (from its control thread).</summary>
    private sealed class EventLog
    {
        private readonly Lock _lock = new();
        private readonly List<QueueState> _ready = [];
        private readonly List<(int, QueueStopReason)> _stopped = [];
        private readonly List<MemoryTable?> _tables = [];
        private readonly List<string> _disconnects = [];
        private readonly SemaphoreSlim _disconnected = new(0);

        public EventLog(VhostUserBackend backend)
        {
            backend.QueueReady += (_, e) => Add(_ready, e.State);
            backend.QueueStopped += (_, e) => Add(_stopped, (e.Index, e.Reason));
            backend.MemoryTableChanged += (_, e) => Add(_tables, e.Table);
            backend.Disconnected += (_, e) =>
            {
                Add(_disconnects, e.Reason ?? "");
                _disconnected.Release();
            };
        }

        public List<QueueState> Ready => Copy(_ready);

        public List<(int, QueueStopReason)> Stopped => Copy(_stopped);

        public List<MemoryTable?> Tables => Copy(_tables);

        public List<string> DisconnectReasons => Copy(_disconnects);

        public bool WaitDisconnects(int count)
        {
            for (var i = 0; i < count; i++)
            {
                if (!_disconnected.Wait(FakeFrontend.Timeout))
                {
                    return false;
                }
            }

            return true;
        }

        private void Add<T>(List<T> list, T item)
        {
            using (_lock.EnterScope())
            {
                list.Add(item);
            }
        }

        private List<T> Copy<T>(List<T> list)
        {
            using (_lock.EnterScope())
            {
                return [.. list];
            }
        }
    }
}

/// <summary>
/// A front-end's guest memory: one 1 MiB memfd exposed as two regions (like QEMU's split below and above
/// the VGA hole), with made-up QEMU virtual addresses and a mapping of our own to check the back-end's.
/// </summary>
internal sealed class FakeGuestMemory : IDisposable
{
    public const long Size = 1 << 20;
    private const ulong UserBase = 0x7f00_0000_0000;

    private readonly nint _mapping;

    public FakeGuestMemory()
    {
        Fd = TestNative.CreateMemfd(Size);
        _mapping = TestNative.MapShared(Fd, Size);
        Regions =
        [
            new MemoryRegionDescription(0x0, 0x80000, UserBase, 0x0),
            new MemoryRegionDescription(0x100000, 0x80000, UserBase + 0x80000, 0x80000),
        ];
    }

    public int Fd { get; }

    public MemoryRegionDescription[] Regions { get; }

    /// <summary>Ring r lives in region r: descriptors at +0x1000, available ring at +0x3000, used ring at +0x4000.</summary>
    public VringAddress RingAddress(uint ring)
    {
        var start = Regions[ring].UserAddr;
        return new VringAddress(ring, 0, start + 0x1000, start + 0x4000, start + 0x3000, 0);
    }

    /// <summary>Our own host address of a QEMU virtual address (both regions sit back to back in the memfd).</summary>
    public nint Host(ulong userAddr) => _mapping + (nint)(userAddr - UserBase);

    public void Dispose()
    {
        _ = LibC.Munmap(_mapping, (nuint)Size);
        LibC.CloseFd(Fd);
    }
}
