using System.Globalization;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.InteropServices;

namespace CloonixActors.Relay.VhostUser;

/// <summary>
/// The device side of vhost-user for one virtio-net device with one queue pair (ring 0 = RX, ring 1 = TX).
/// A dedicated control thread (never the thread pool) accepts or makes the connection, polls the socket
/// and applies each request to the ring state; the data path receives rings through
/// <see cref="QueueReady"/> and gives them back through <see cref="QueueStopped"/>.
/// <para>
/// Threading contract. The control thread mutates state, raises <see cref="QueueReady"/>,
/// <see cref="QueueStopped"/> and <see cref="MemoryTableChanged"/>, and unmaps memory or closes
/// descriptors only while holding <see cref="DataPathGate"/>. A data thread takes the gate around each
/// batch of ring work (never around a blocking poll): then nothing it uses can vanish mid-batch, and a new
/// memory table replaces the old one only when the data path is paused. Handlers run on the control thread
/// under the gate: they must be quick, must not block on the data thread, and should not throw.
/// </para>
/// </summary>
public sealed class VhostUserBackend : IDisposable
{
    public const int QueueCount = 2;
    public const int RxQueue = 0;
    public const int TxQueue = 1;

    /// <summary>The largest split ring (virtio 1.1 §2.6: Queue Size ≤ 32768, a power of two).</summary>
    public const uint MaxQueueSize = 32768;

    /// <summary>Features every net device here offers: checksum and TSO both ways keep offloads end to end.</summary>
    public const VirtioFeatures BaseFeatures =
        VirtioFeatures.Version1 |
        VirtioFeatures.NetMrgRxbuf |
        VirtioFeatures.NetCsum |
        VirtioFeatures.NetGuestCsum |
        VirtioFeatures.NetGuestTso4 |
        VirtioFeatures.NetGuestTso6 |
        VirtioFeatures.NetHostTso4 |
        VirtioFeatures.NetHostTso6 |
        VirtioFeatures.ProtocolFeatures;

    private const int NoFd = -1;

    private readonly VhostUserBackendOptions _options;
    private readonly Lock _gate = new();
    private readonly Vring[] _queues = [new Vring(0), new Vring(1)];
    private readonly VhostUserMessage _message = new();
    private readonly byte[] _reply = new byte[VhostUserHeader.Length + VhostUserCodec.U64Length + VringState.Length];
    private readonly MemoryRegionDescription[] _regions = new MemoryRegionDescription[VhostUserCodec.MaxMemoryRegions];

    private Socket? _listener;
    private bool _ownsSocketPath;
    private int _wakeFd = NoFd;
    private Thread? _thread;
    private volatile bool _stopping;
    private volatile bool _releaseOnExit;
    private int _disposed;

    // Session state: written by the control thread under the gate.
    private MemoryTable? _memory;
    private VirtioFeatures _ackedFeatures;
    private VhostUserProtocolFeatures _ackedProtocolFeatures;
    private bool _featuresSet;
    private bool _hasOwner;
    private bool _connected;
    private uint? _mtu;
    private int _sessions;
    private string? _lastError;

    public VhostUserBackend(VhostUserBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.SocketPath);
        _options = options;
        OfferedFeatures = BaseFeatures |
            (options.OfferEventIdx ? VirtioFeatures.RingEventIdx : VirtioFeatures.None) |
            (options.OfferIndirectDescriptors ? VirtioFeatures.RingIndirectDesc : VirtioFeatures.None);
    }

    /// <summary>Raised on the control thread when a front-end connected.</summary>
    public event EventHandler<VhostUserConnectionEventArgs>? Connected;

    /// <summary>Raised on the control thread after a session ended and all its rings were stopped.</summary>
    public event EventHandler<VhostUserConnectionEventArgs>? Disconnected;

    /// <summary>Raised on the control thread after each request was handled (and answered).</summary>
    public event EventHandler<VhostUserMessageEventArgs>? MessageHandled;

    /// <summary>A ring has addresses, a kick, is enabled and translates: the data path may run it. Under the gate.</summary>
    public event EventHandler<QueueReadyEventArgs>? QueueReady;

    /// <summary>A running ring stops: the data path must let go of it and report its last avail index. Under the gate.</summary>
    public event EventHandler<QueueStoppedEventArgs>? QueueStopped;

    /// <summary>A memory table was mapped (or, with null, the session's one unmapped). Under the gate.</summary>
    public event EventHandler<MemoryTableChangedEventArgs>? MemoryTableChanged;

    public VhostUserBackendOptions Options => _options;

    public VirtioFeatures OfferedFeatures { get; }

    /// <summary>REPLY_ACK only: MQ is not needed for one queue pair and CONFIG space stays QEMU's.</summary>
    public VhostUserProtocolFeatures OfferedProtocolFeatures { get; } = VhostUserProtocolFeatures.ReplyAck;

    /// <summary>
    /// Taken by the control thread around every state change and by the data path around each batch:
    /// holding it guarantees rings, descriptors and guest memory stay as last handed over.
    /// </summary>
    public Lock DataPathGate => _gate;

    public VirtioFeatures AckedFeatures
    {
        get
        {
            using (_gate.EnterScope())
            {
                return _ackedFeatures;
            }
        }
    }

    public VhostUserProtocolFeatures AckedProtocolFeatures
    {
        get
        {
            using (_gate.EnterScope())
            {
                return _ackedProtocolFeatures;
            }
        }
    }

    /// <summary>Whether SET_FEATURES arrived in this session (the driver started).</summary>
    public bool FeaturesSet
    {
        get
        {
            using (_gate.EnterScope())
            {
                return _featuresSet;
            }
        }
    }

    public bool HasOwner
    {
        get
        {
            using (_gate.EnterScope())
            {
                return _hasOwner;
            }
        }
    }

    public bool IsConnected
    {
        get
        {
            using (_gate.EnterScope())
            {
                return _connected;
            }
        }
    }

    /// <summary>The MTU NET_SET_MTU announced, if any.</summary>
    public uint? Mtu
    {
        get
        {
            using (_gate.EnterScope())
            {
                return _mtu;
            }
        }
    }

    /// <summary>How many sessions (connections) have started so far.</summary>
    public int SessionCount => Volatile.Read(ref _sessions);

    /// <summary>The last problem met (a refused request, a ring that would not translate, a failing handler).</summary>
    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>
    /// Starts serving. In server mode the socket is listening when this returns (so QEMU can be started
    /// right after); in client mode the control thread connects, retrying every ReconnectInterval.
    /// </summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_thread is not null)
        {
            throw new InvalidOperationException("already started");
        }

        _wakeFd = LibC.EventFd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (_wakeFd < 0)
        {
            throw new IOException($"eventfd failed (errno {Marshal.GetLastPInvokeError()})");
        }

        if (_options.Mode == VhostUserSocketMode.Server)
        {
            _listener = Listen(_options.SocketPath);
            _ownsSocketPath = true;
        }

        _thread = new Thread(Run) { IsBackground = true, Name = $"vhost-user {_options.Name}" };
        _thread.Start();
    }

    /// <summary>A snapshot of ring <paramref name="index"/>'s configuration.</summary>
    public QueueInfo GetQueueInfo(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, QueueCount);
        using (_gate.EnterScope())
        {
            var q = _queues[index];
            return new QueueInfo(index, q.Num, q.Address, q.Base, q.KickSet, q.KickFd, q.CallFd, q.ErrFd, q.Enabled, q.Current is not null);
        }
    }

    /// <summary>
    /// The state ring <paramref name="index"/> runs with, or null when it is stopped. Its pointers may
    /// only be dereferenced while holding <see cref="DataPathGate"/>.
    /// </summary>
    public QueueState? GetQueueState(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, QueueCount);
        using (_gate.EnterScope())
        {
            return _queues[index].Current;
        }
    }

    /// <summary>The memory table in force, or null; only use it while holding <see cref="DataPathGate"/>.</summary>
    public MemoryTable? Memory
    {
        get
        {
            using (_gate.EnterScope())
            {
                return _memory;
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        if (_thread is null)
        {
            ReleaseResources();
            return;
        }

        LibC.SignalEventFd(_wakeFd);
        if (Thread.CurrentThread == _thread)
        {
            // Disposed from one of our own handlers: the loop ends once the handler returns.
            _releaseOnExit = true;
            return;
        }

        _thread.Join();
        ReleaseResources();
    }

    private void ReleaseResources()
    {
        _listener?.Dispose();
        _listener = null;
        if (_ownsSocketPath)
        {
            TryDelete(_options.SocketPath);
            _ownsSocketPath = false;
        }

        LibC.CloseFd(_wakeFd);
        _wakeFd = NoFd;
    }

    private static Socket Listen(string path)
    {
        if (File.Exists(path))
        {
            // A socket file left by a previous run is removed; one somebody still serves is not ours to take.
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"{path} is already served by another process");
            }
            catch (SocketException)
            {
                File.Delete(path);
            }
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(4);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    // ---------------------------------------------------------------- control loop

    private void Run()
    {
        try
        {
            while (!_stopping)
            {
                var connection = _options.Mode == VhostUserSocketMode.Server ? AcceptNext() : ConnectNext();
                if (connection is null)
                {
                    break;
                }

                RunSession(connection);
            }
        }
#pragma warning disable CA1031 // The last line of defence of a dedicated thread: an escaping exception would kill the process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            SetError($"control loop ended: {ex}");
        }
        finally
        {
            if (_releaseOnExit)
            {
                ReleaseResources();
            }
        }
    }

    private VhostUserConnection? AcceptNext()
    {
        while (!_stopping)
        {
            var listener = _listener!;
            var ready = PollOne((int)listener.SafeHandle.DangerousGetHandle(), Timeout.Infinite);
            if (!ready)
            {
                continue;
            }

            try
            {
                return new VhostUserConnection(listener.Accept(), _options.IoTimeout);
            }
            catch (SocketException ex)
            {
                SetError($"accept failed: {ex.Message}");
                _ = PollOne(NoFd, (int)_options.ReconnectInterval.TotalMilliseconds);
            }
        }

        return null;
    }

    private VhostUserConnection? ConnectNext()
    {
        while (!_stopping)
        {
            try
            {
                return VhostUserConnection.Connect(_options.SocketPath, _options.IoTimeout);
            }
            catch (SocketException ex)
            {
                SetError($"connect to {_options.SocketPath} failed: {ex.Message}");
            }

            _ = PollOne(NoFd, (int)_options.ReconnectInterval.TotalMilliseconds);
        }

        return null;
    }

    /// <summary>
    /// Waits until <paramref name="fd"/> (or nothing, with -1) is readable, the wake eventfd fires or the
    /// timeout passes. True only when <paramref name="fd"/> is ready (readable, hung up or in error).
    /// </summary>
    private unsafe bool PollOne(int fd, int timeoutMilliseconds)
    {
        var fds = stackalloc LibC.PollFd[2];
        fds[0] = new LibC.PollFd { Fd = _wakeFd, Events = LibC.POLLIN };
        fds[1] = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
        var count = fd >= 0 ? 2u : 1u;
        while (true)
        {
            var n = LibC.Poll(fds, count, timeoutMilliseconds);
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR)
                {
                    continue;
                }

                throw new IOException($"poll failed (errno {errno})");
            }

            if ((fds[0].Revents & LibC.POLLIN) != 0)
            {
                LibC.DrainEventFd(_wakeFd);
            }

            return fd >= 0 && (fds[1].Revents & (LibC.POLLIN | LibC.POLLHUP | LibC.POLLERR | LibC.POLLNVAL)) != 0;
        }
    }

    private void RunSession(VhostUserConnection connection)
    {
        string? reason = null;
        using (_gate.EnterScope())
        {
            _connected = true;
        }

        Interlocked.Increment(ref _sessions);
        try
        {
            Raise(Connected, new VhostUserConnectionEventArgs(null));
            while (!_stopping)
            {
                if (!PollOne(connection.Fd, Timeout.Infinite))
                {
                    continue;
                }

                VhostUserReceiveStatus status;
                try
                {
                    status = connection.Receive(_message);
                }
                catch (TimeoutException)
                {
                    // Readable but nothing came within the timeout: spurious, poll again.
                    continue;
                }
                catch (VhostUserProtocolException ex)
                {
                    reason = $"protocol error: {ex.Message}";
                    break;
                }

                if (status == VhostUserReceiveStatus.Closed)
                {
                    reason = connection.CloseReason ?? "connection closed";
                    break;
                }

                if (!HandleMessage(connection, _message, out reason))
                {
                    break;
                }
            }

            if (_stopping)
            {
                reason ??= "back-end disposed";
            }
        }
#pragma warning disable CA1031 // A failing handler or an unexpected error ends this session, not the process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            reason = $"session failed: {ex}";
        }
        finally
        {
            _message.Reset();
            EndSession(_stopping ? QueueStopReason.Disposed : QueueStopReason.Disconnected);
            connection.Dispose();
        }

        if (reason is not null && !_stopping)
        {
            SetError(reason);
        }

        Raise(Disconnected, new VhostUserConnectionEventArgs(reason));
    }

    /// <summary>Stops every ring, closes every descriptor and unmaps the memory: the next session starts clean.</summary>
    private void EndSession(QueueStopReason reason)
    {
        using (_gate.EnterScope())
        {
            for (var i = 0; i < QueueCount; i++)
            {
                _ = StopQueue(i, reason);
                _queues[i].Reset();
            }

            var memory = _memory;
            _memory = null;
            memory?.Dispose();
            if (memory is not null)
            {
                Raise(MemoryTableChanged, new MemoryTableChangedEventArgs(null));
            }

            _ackedFeatures = VirtioFeatures.None;
            _ackedProtocolFeatures = VhostUserProtocolFeatures.None;
            _featuresSet = false;
            _hasOwner = false;
            _mtu = null;
            _connected = false;
        }
    }

    // ---------------------------------------------------------------- requests

    /// <summary>
    /// Applies one request under the gate, then answers it outside: its own reply for GET_*, else a u64 ack
    /// (0 = done, 1 = refused) when the front-end set need-reply. A refused request leaves the state as it
    /// was. False ends the session: a fatal error, a failed request that needs an explicit reply (the
    /// front-end would wait forever), or a peer that went away while we answered.
    /// </summary>
    private bool HandleMessage(VhostUserConnection connection, VhostUserMessage message, out string? endReason)
    {
        endReason = null;
        var header = message.Header;
        var fdCount = message.FdCount;
        var summary = string.Empty;
        string? error = null;
        var replyLength = 0;
        using (_gate.EnterScope())
        {
            try
            {
                replyLength = Dispatch(message, ref summary);
            }
            catch (VhostUserProtocolException ex)
            {
                error = ex.Message;
                if (ex.Fatal || VhostUserCodec.HasExplicitReply(header.Request))
                {
                    endReason = $"{header.Request}: {ex.Message}";
                }
            }
            finally
            {
                message.CloseFds();
            }
        }

        if (error is not null)
        {
            SetError($"{header.Request}: {error}");
        }

        var sent = true;
        if (endReason is null)
        {
            if (replyLength > 0)
            {
                sent = connection.Send(_reply.AsSpan(0, replyLength));
            }
            else if (header.NeedReply)
            {
                var length = VhostUserCodec.WriteU64Reply(_reply, header.Request, error is null ? 0UL : 1UL);
                sent = connection.Send(_reply.AsSpan(0, length));
            }
        }

        Raise(MessageHandled, new VhostUserMessageEventArgs(header, fdCount, summary, error));
        if (!sent)
        {
            endReason = connection.CloseReason ?? "reply could not be sent";
        }

        return endReason is null;
    }

    /// <summary>Handles one request; returns the length of the explicit reply written to _reply (0 = none).</summary>
    private int Dispatch(VhostUserMessage message, ref string summary)
    {
        var payload = message.Payload;
        var request = message.Request;
        switch (request)
        {
            case VhostUserRequest.GetFeatures:
                summary = Hex((ulong)OfferedFeatures);
                return VhostUserCodec.WriteU64Reply(_reply, request, (ulong)OfferedFeatures);

            case VhostUserRequest.SetFeatures:
                summary = SetFeatures(VhostUserCodec.ReadU64(payload));
                return 0;

            case VhostUserRequest.GetProtocolFeatures:
                summary = Hex((ulong)OfferedProtocolFeatures);
                return VhostUserCodec.WriteU64Reply(_reply, request, (ulong)OfferedProtocolFeatures);

            case VhostUserRequest.SetProtocolFeatures:
                {
                    var value = VhostUserCodec.ReadU64(payload);
                    var unknown = value & ~(ulong)OfferedProtocolFeatures;
                    if (unknown != 0)
                    {
                        throw new VhostUserProtocolException($"protocol features {Hex(unknown)} were not offered");
                    }

                    _ackedProtocolFeatures = (VhostUserProtocolFeatures)value;
                    summary = Hex(value);
                    return 0;
                }

            case VhostUserRequest.SetOwner:
                _hasOwner = true;
                return 0;

            case VhostUserRequest.ResetOwner:
                // Deprecated; the spec recommends disabling every ring rather than dropping the session.
                for (var i = 0; i < QueueCount; i++)
                {
                    _queues[i].Enabled = false;
                    summary += UpdateQueue(i, QueueStopReason.ResetOwner);
                }

                return 0;

            case VhostUserRequest.SetMemTable:
                summary = SetMemTable(message);
                return 0;

            case VhostUserRequest.GetQueueNum:
                summary = "1";
                return VhostUserCodec.WriteU64Reply(_reply, request, 1);

            case VhostUserRequest.SetVringNum:
                {
                    var state = VhostUserCodec.ReadVringState(payload);
                    var q = Queue(state.Index);
                    if (state.Num == 0 || state.Num > MaxQueueSize || !BitOperations.IsPow2(state.Num))
                    {
                        throw new VhostUserProtocolException($"ring size {state.Num} is not a power of two in 1..{MaxQueueSize}");
                    }

                    q.Num = state.Num;
                    summary = $"index={state.Index} num={state.Num}" + UpdateQueue(q.Index, QueueStopReason.Reconfigured);
                    return 0;
                }

            case VhostUserRequest.SetVringAddr:
                {
                    var address = VhostUserCodec.ReadVringAddress(payload);
                    var q = Queue(address.Index);
                    q.Address = address;
                    summary = $"index={address.Index} flags=0x{address.Flags:x} desc={Hex(address.DescriptorUserAddr)} used={Hex(address.UsedUserAddr)} avail={Hex(address.AvailableUserAddr)} log={Hex(address.LogGuestAddr)}"
                        + UpdateQueue(q.Index, QueueStopReason.Reconfigured);
                    return 0;
                }

            case VhostUserRequest.SetVringBase:
                {
                    var state = VhostUserCodec.ReadVringState(payload);
                    var q = Queue(state.Index);
                    if (state.Num > ushort.MaxValue)
                    {
                        throw new VhostUserProtocolException($"ring base {state.Num} does not fit a split ring's 16-bit index");
                    }

                    // A base set on a running ring wins over where the data path stopped: stop first, then set.
                    _ = StopQueue(q.Index, QueueStopReason.Reconfigured);
                    q.Base = (ushort)state.Num;
                    summary = $"index={state.Index} num={state.Num}" + UpdateQueue(q.Index, QueueStopReason.Reconfigured);
                    return 0;
                }

            case VhostUserRequest.GetVringBase:
                {
                    var state = VhostUserCodec.ReadVringState(payload);
                    var q = Queue(state.Index);
                    var lastAvail = StopQueue(q.Index, QueueStopReason.GetVringBase) ?? q.Base;

                    // Stopped until the front-end starts it again, which always sends a new kick descriptor.
                    LibC.CloseFd(q.KickFd);
                    q.KickFd = NoFd;
                    q.KickSet = false;
                    summary = $"index={state.Index} -> last_avail_idx={lastAvail}";
                    return VhostUserCodec.WriteVringStateReply(_reply, request, new VringState(state.Index, lastAvail));
                }

            case VhostUserRequest.SetVringKick:
            case VhostUserRequest.SetVringCall:
            case VhostUserRequest.SetVringErr:
                summary = ReplaceRingFd(message, request);
                return 0;

            case VhostUserRequest.SetVringEnable:
                {
                    var state = VhostUserCodec.ReadVringState(payload);
                    var q = Queue(state.Index);
                    if (state.Num > 1)
                    {
                        throw new VhostUserProtocolException($"ring enable value {state.Num} is neither 0 nor 1");
                    }

                    q.Enabled = state.Num == 1;
                    summary = $"index={state.Index} enable={state.Num}"
                        + UpdateQueue(q.Index, q.Enabled ? QueueStopReason.Reconfigured : QueueStopReason.Disabled);
                    return 0;
                }

            case VhostUserRequest.SendRarp:
                {
                    // RARP was not offered: the guest announces itself. Accepted and ignored.
                    var value = VhostUserCodec.ReadU64(payload);
                    Span<byte> mac = stackalloc byte[8];
                    _ = VhostUserCodec.WriteU64(mac, value);
                    summary = $"mac={Convert.ToHexString(mac[..6])} ignored";
                    return 0;
                }

            case VhostUserRequest.NetSetMtu:
                {
                    var value = VhostUserCodec.ReadU64(payload);
                    if (value is < 68 or > 65535)
                    {
                        throw new VhostUserProtocolException($"MTU {value} outside 68..65535");
                    }

                    _mtu = (uint)value;
                    summary = $"mtu={value}";
                    return 0;
                }

            case VhostUserRequest.GetConfig:
                // CONFIG was not offered: a zero-length reply is the spec's way of saying "error".
                summary = "refused with an empty reply (CONFIG not offered)";
                return VhostUserCodec.WriteEmptyReply(_reply, request);

            default:
                throw new VhostUserProtocolException(
                    Enum.IsDefined(request) ? $"{request} is not supported" : $"unknown request {(uint)request}");
        }
    }

    private string SetFeatures(ulong value)
    {
        var unknown = value & ~(ulong)OfferedFeatures;
        if (unknown != 0)
        {
            throw new VhostUserProtocolException($"features {Hex(unknown)} were not offered");
        }

        _ackedFeatures = (VirtioFeatures)value;
        _featuresSet = true;
        var summary = Hex(value);

        // Without VHOST_USER_F_PROTOCOL_FEATURES there is no SET_VRING_ENABLE: rings start enabled.
        if ((_ackedFeatures & VirtioFeatures.ProtocolFeatures) == 0)
        {
            foreach (var q in _queues)
            {
                q.Enabled = true;
            }
        }

        for (var i = 0; i < QueueCount; i++)
        {
            summary += UpdateQueue(i, QueueStopReason.Reconfigured);
        }

        return summary;
    }

    private string SetMemTable(VhostUserMessage message)
    {
        var count = VhostUserCodec.ReadMemoryTable(message.Payload, _regions);
        if (message.FdCount != count)
        {
            throw new VhostUserProtocolException($"{count} memory regions but {message.FdCount} descriptors");
        }

        Span<int> fds = stackalloc int[count];
        for (var i = 0; i < count; i++)
        {
            fds[i] = message.PeekFd(i);
        }

        // The descriptors are closed with the message: the mappings keep the memory.
        var table = MemoryTable.Map(_regions.AsSpan(0, count), fds);
        var old = _memory;
        _memory = table;
        var summary = string.Join(' ', table.Regions.Select(r =>
            $"[gpa={Hex(r.GuestPhysAddr)} size={Hex(r.Size)} uaddr={Hex(r.UserAddr)} off={Hex(r.MmapOffset)}]"));

        // Running rings were translated through the old table: hand them over again through the new one,
        // and unmap the old table only once the data path has let go of it.
        for (var i = 0; i < QueueCount; i++)
        {
            summary += UpdateQueue(i, QueueStopReason.MemoryTableChanged);
        }

        old?.Dispose();
        Raise(MemoryTableChanged, new MemoryTableChangedEventArgs(table));
        return $"{count} regions mapped {summary}";
    }

    /// <summary>The descriptor of SET_VRING_KICK/CALL/ERR, taken from the message, or -1 with the no-fd flag.</summary>
    /// <summary>SET_VRING_KICK, _CALL or _ERR: the ring takes the new fd, restarts, and the old fd is closed.</summary>
    private string ReplaceRingFd(VhostUserMessage message, VhostUserRequest request)
    {
        var file = VhostUserCodec.ReadVringFile(message.Payload);
        var q = Queue(file.Index);
        var fd = TakeRingFd(message, file);
        int old;
        switch (request)
        {
            case VhostUserRequest.SetVringKick:
                old = q.KickFd;
                q.KickFd = fd;
                q.KickSet = true;
                break;
            case VhostUserRequest.SetVringCall:
                old = q.CallFd;
                q.CallFd = fd;
                break;
            default:
                old = q.ErrFd;
                q.ErrFd = fd;
                break;
        }

        var what = file.NoFd ? (request == VhostUserRequest.SetVringKick ? "polling" : "no fd") : $"fd={fd}";
        var summary = $"index={file.Index} {what}" + UpdateQueue(q.Index, QueueStopReason.Reconfigured);
        LibC.CloseFd(old);
        return summary;
    }

    private static int TakeRingFd(VhostUserMessage message, VringFile file)
    {
        if (file.NoFd)
        {
            // Any descriptor sent anyway is closed with the message.
            return NoFd;
        }

        if (message.FdCount != 1)
        {
            throw new VhostUserProtocolException($"{message.Request} needs exactly one descriptor, got {message.FdCount}");
        }

        return message.TakeFd(0);
    }

    private Vring Queue(uint index) =>
        index < QueueCount
            ? _queues[index]
            : throw new VhostUserProtocolException($"ring index {index} out of range (this device has {QueueCount} rings)");

    // ---------------------------------------------------------------- ring life cycle

    /// <summary>
    /// Brings ring <paramref name="index"/> in line with its configuration: started exactly when it has a
    /// size, addresses that translate, a kick and is enabled. A running ring whose state would change is
    /// stopped (with <paramref name="reason"/>) and handed over again. Returns a note for the log.
    /// </summary>
    private string UpdateQueue(int index, QueueStopReason reason)
    {
        var q = _queues[index];
        var desired = BuildState(q, out var problem);
        if (q.Current is not null && q.Current == desired)
        {
            return string.Empty;
        }

        var note = string.Empty;
        if (q.Current is not null)
        {
            _ = StopQueue(index, reason);
            note = $" (ring {index} stopped: {reason})";
            desired = BuildState(q, out problem);
        }

        if (desired is not null)
        {
            q.Current = desired;
            Raise(QueueReady, new QueueReadyEventArgs(desired));
            note += $" (ring {index} started: size={desired.Size} base={desired.Base})";
        }
        else if (problem is not null)
        {
            SetError($"ring {index}: {problem}");
            note += $" (ring {index} not started: {problem})";
        }

        return note;
    }

    /// <summary>Stops a running ring; returns the data path's last avail index (now the ring's base), or null if it was not running.</summary>
    private ushort? StopQueue(int index, QueueStopReason reason)
    {
        var q = _queues[index];
        var current = q.Current;
        if (current is null)
        {
            return null;
        }

        q.Current = null;
        var args = new QueueStoppedEventArgs(current, reason);
        Raise(QueueStopped, args);
        q.Base = args.LastAvailIndex;
        return q.Base;
    }

    /// <summary>The state the ring would run with, or null (with a reason when the configuration is wrong rather than incomplete).</summary>
    private QueueState? BuildState(Vring q, out string? problem)
    {
        problem = null;
        if (_memory is null || q.Num == 0 || q.Address is not { } address || !q.KickSet || !q.Enabled)
        {
            return null;
        }

        var num = (ulong)q.Num;
        if (!Translate(address.DescriptorUserAddr, 16 * num, 16, "descriptor table", out var desc, ref problem) ||
            !Translate(address.AvailableUserAddr, 6 + (2 * num), 2, "available ring", out var avail, ref problem) ||
            !Translate(address.UsedUserAddr, 6 + (8 * num), 4, "used ring", out var used, ref problem))
        {
            return null;
        }

        return new QueueState(q.Index, (int)q.Num, desc, avail, used, address, q.Base, q.KickFd, q.CallFd, q.ErrFd, _ackedFeatures, _memory);
    }

    private bool Translate(ulong userAddr, ulong length, ulong alignment, string what, out nint host, ref string? problem)
    {
        if ((userAddr & (alignment - 1)) != 0)
        {
            problem = $"{what} at {Hex(userAddr)} is not {alignment}-byte aligned";
            host = 0;
            return false;
        }

        if (!_memory!.TryTranslateUser(userAddr, length, out host))
        {
            problem = $"{what} at {Hex(userAddr)} (+{length}) is not inside one guest memory region";
            return false;
        }

        return true;
    }

    // ---------------------------------------------------------------- helpers

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        if (handler is null)
        {
            return;
        }

        // One failing subscriber must neither leave a ring half stopped nor keep the others from hearing.
        foreach (var single in handler.GetInvocationList().Cast<EventHandler<T>>())
        {
            try
            {
                single(this, args);
            }
#pragma warning disable CA1031 // Subscriber code is not ours to trust; the failure is reported through LastError.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                SetError($"{typeof(T).Name} handler failed: {ex.Message}");
            }
        }
    }

    private void SetError(string error) => Volatile.Write(ref _lastError, error);

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>One ring's configuration as the front-end set it, plus the state it runs with.</summary>
    private sealed class Vring(int index)
    {
        public int Index { get; } = index;

        public uint Num { get; set; }

        public VringAddress? Address { get; set; }

        public ushort Base { get; set; }

        /// <summary>SET_VRING_KICK arrived (with a descriptor, or with the no-fd flag meaning "poll").</summary>
        public bool KickSet { get; set; }

        public int KickFd { get; set; } = NoFd;

        public int CallFd { get; set; } = NoFd;

        public int ErrFd { get; set; } = NoFd;

        /// <summary>With protocol features negotiated a ring starts disabled until SET_VRING_ENABLE 1.</summary>
        public bool Enabled { get; set; }

        /// <summary>The state handed to the data path while started, else null.</summary>
        public QueueState? Current { get; set; }

        public void Reset()
        {
            LibC.CloseFd(KickFd);
            LibC.CloseFd(CallFd);
            LibC.CloseFd(ErrFd);
            KickFd = CallFd = ErrFd = NoFd;
            KickSet = false;
            Num = 0;
            Address = null;
            Base = 0;
            Enabled = false;
            Current = null;
        }
    }
}
