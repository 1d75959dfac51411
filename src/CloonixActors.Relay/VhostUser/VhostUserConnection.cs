using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace CloonixActors.Relay.VhostUser;

/// <summary>What a receive produced.</summary>
public enum VhostUserReceiveStatus
{
    /// <summary>A whole message is in the <see cref="VhostUserMessage"/>.</summary>
    Message,
    /// <summary>The peer closed or reset the connection (see <see cref="VhostUserConnection.CloseReason"/>).</summary>
    Closed,
}

/// <summary>
/// One connected vhost-user unix stream socket. The BCL <see cref="Socket"/> only creates, connects and
/// owns it; every read goes through native recvmsg on its descriptor, because the file descriptors of
/// SET_MEM_TABLE and SET_VRING_KICK/CALL/ERR ride as SCM_RIGHTS ancillary data with the header and
/// <c>Socket.Receive</c> would make the kernel drop them. The socket stays blocking (no async API is ever
/// used on it: those switch the descriptor to non-blocking) with send and receive timeouts, so a peer
/// that stops half-way through a message cannot hang the control thread forever.
/// Not thread-safe: one thread receives and sends.
/// </summary>
public sealed unsafe class VhostUserConnection : IDisposable
{
    private static readonly int ControlLength = LibC.CmsgSpace(VhostUserCodec.MaxFds * sizeof(int));

    private readonly Socket _socket;
    private readonly byte[] _header = new byte[VhostUserHeader.Length];
    private readonly byte[] _control = new byte[ControlLength];
    private bool _disposed;

    /// <summary>Takes ownership of a connected unix stream socket.</summary>
    public VhostUserConnection(Socket socket, TimeSpan ioTimeout)
    {
        ArgumentNullException.ThrowIfNull(socket);
        _socket = socket;
        Fd = (int)socket.SafeHandle.DangerousGetHandle();
        MakeBlocking(Fd);
        SetTimeout(Fd, LibC.SO_RCVTIMEO, ioTimeout);
        SetTimeout(Fd, LibC.SO_SNDTIMEO, ioTimeout);
    }

    /// <summary>The socket's descriptor, for poll(). Owned by this object.</summary>
    public int Fd { get; }

    /// <summary>Why the connection ended, once a receive or send reported it closed.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Connects to a vhost-user socket served by the peer (client mode).</summary>
    public static VhostUserConnection Connect(string path, TimeSpan ioTimeout)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new VhostUserConnection(socket, ioTimeout);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads one whole message (header, payload and descriptors) into <paramref name="message"/>, whose
    /// previous descriptors are closed first. Throws a fatal <see cref="VhostUserProtocolException"/> on a
    /// bad header, lost descriptors (MSG_CTRUNC, more than 8) or a peer stalled mid-message; throws
    /// <see cref="TimeoutException"/> when nothing at all arrived within the receive timeout.
    /// </summary>
    public VhostUserReceiveStatus Receive(VhostUserMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        ObjectDisposedException.ThrowIf(_disposed, this);
        message.Reset();
        var lostFds = false;
        try
        {
            int got;
            fixed (byte* headerBytes = _header)
            {
                got = ReceiveExact(headerBytes, VhostUserHeader.Length, message, atMessageStart: true, ref lostFds);
            }

            if (got < VhostUserHeader.Length)
            {
                CloseReason ??= got == 0 ? "peer closed the connection" : "peer closed the connection inside a header";
                message.CloseFds();
                return VhostUserReceiveStatus.Closed;
            }

            var header = VhostUserCodec.ReadHeader(_header);
            message.Header = header;
            var size = (int)header.Size;
            if (size > 0)
            {
                fixed (byte* payload = message.PayloadBuffer)
                {
                    got = ReceiveExact(payload, size, message, atMessageStart: false, ref lostFds);
                }

                if (got < size)
                {
                    CloseReason ??= $"peer closed the connection inside the payload of {header.Request}";
                    message.CloseFds();
                    return VhostUserReceiveStatus.Closed;
                }
            }

            message.PayloadLength = size;
            if (lostFds)
            {
                throw new VhostUserProtocolException(
                    $"{header.Request}: descriptors were lost (more than {VhostUserCodec.MaxFds}, or control data truncated)", fatal: true);
            }

            return VhostUserReceiveStatus.Message;
        }
        catch
        {
            message.CloseFds();
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="bytes"/> whole, with <paramref name="fds"/> as SCM_RIGHTS on the first chunk
    /// (the front-end's side of the protocol needs that; a back-end's replies carry none). False when the
    /// peer is gone or stopped reading (see <see cref="CloseReason"/>).
    /// </summary>
    public bool Send(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (fds.Length > VhostUserCodec.MaxFds)
        {
            throw new ArgumentException($"at most {VhostUserCodec.MaxFds} descriptors per message", nameof(fds));
        }

        var controlLength = fds.IsEmpty ? 0 : LibC.CmsgSpace(fds.Length * sizeof(int));
        var control = stackalloc byte[Math.Max(controlLength, 1)];
        if (controlLength > 0)
        {
            new Span<byte>(control, controlLength).Clear();
            var cmsg = (LibC.CmsgHdr*)control;
            cmsg->Length = (nuint)(LibC.CmsgHeaderSize + (fds.Length * sizeof(int)));
            cmsg->Level = LibC.SOL_SOCKET;
            cmsg->Type = LibC.SCM_RIGHTS;
            fds.CopyTo(new Span<int>(control + LibC.CmsgHeaderSize, fds.Length));
        }

        var sent = 0;
        fixed (byte* data = bytes)
        {
            while (sent < bytes.Length)
            {
                var iov = new LibC.IoVec { Base = data + sent, Length = (nuint)(bytes.Length - sent) };
                var header = new LibC.MsgHdr { Iov = &iov, IovLength = 1 };
                if (sent == 0 && controlLength > 0)
                {
                    header.Control = control;
                    header.ControlLength = (nuint)controlLength;
                }

                var n = LibC.SendMsg(Fd, &header, LibC.MSG_NOSIGNAL);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }

                    CloseReason ??= errno == LibC.EAGAIN ? "peer stopped reading (send timed out)" : $"send failed (errno {errno})";
                    return false;
                }

                sent += (int)n;
            }
        }

        return true;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _socket.Dispose();
    }

    /// <summary>
    /// Receives exactly <paramref name="count"/> bytes unless the peer closes first; returns how many came.
    /// Every recvmsg carries the control buffer, so descriptors are collected whichever read they ride on.
    /// </summary>
    private int ReceiveExact(byte* buffer, int count, VhostUserMessage message, bool atMessageStart, ref bool lostFds)
    {
        var got = 0;
        fixed (byte* control = _control)
        {
            while (got < count)
            {
                var iov = new LibC.IoVec { Base = buffer + got, Length = (nuint)(count - got) };
                var header = new LibC.MsgHdr
                {
                    Iov = &iov,
                    IovLength = 1,
                    Control = control,
                    ControlLength = (nuint)_control.Length,
                };
                var n = LibC.RecvMsg(Fd, &header, LibC.MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }

                    if (errno == LibC.EAGAIN)
                    {
                        if (atMessageStart && got == 0)
                        {
                            throw new TimeoutException("no message within the receive timeout");
                        }

                        throw new VhostUserProtocolException("peer stalled in the middle of a message", fatal: true);
                    }

                    CloseReason ??= errno == LibC.ECONNRESET ? "connection reset by peer" : $"recvmsg failed (errno {errno})";
                    return got;
                }

                CollectFds(control, (int)header.ControlLength, message, ref lostFds);
                if ((header.Flags & LibC.MSG_CTRUNC) != 0)
                {
                    lostFds = true;
                }

                if (n == 0)
                {
                    return got;
                }

                got += (int)n;
            }
        }

        return got;
    }

    /// <summary>Walks the control messages (cmsghdr 16 bytes, data 8-aligned) and keeps SCM_RIGHTS descriptors.</summary>
    private static void CollectFds(byte* control, int length, VhostUserMessage message, ref bool lostFds)
    {
        var offset = 0;
        while (offset + LibC.CmsgHeaderSize <= length)
        {
            var cmsg = (LibC.CmsgHdr*)(control + offset);
            var cmsgLength = (long)cmsg->Length;
            if (cmsgLength < LibC.CmsgHeaderSize || offset + cmsgLength > length)
            {
                break;
            }

            if (cmsg->Level == LibC.SOL_SOCKET && cmsg->Type == LibC.SCM_RIGHTS)
            {
                var count = (int)((cmsgLength - LibC.CmsgHeaderSize) / sizeof(int));
                var fds = (int*)(control + offset + LibC.CmsgHeaderSize);
                for (var i = 0; i < count; i++)
                {
                    if (!message.AddFd(fds[i]))
                    {
                        // More than a message may carry: close it now, and fail the message.
                        LibC.CloseFd(fds[i]);
                        lostFds = true;
                    }
                }
            }

            offset += LibC.CmsgAlign((int)cmsgLength);
        }
    }

    private static void MakeBlocking(int fd)
    {
        var flags = LibC.Fcntl(fd, LibC.F_GETFL, 0);
        if (flags >= 0 && (flags & LibC.O_NONBLOCK) != 0)
        {
            _ = LibC.Fcntl(fd, LibC.F_SETFL, flags & ~LibC.O_NONBLOCK);
        }
    }

    private static void SetTimeout(int fd, int option, TimeSpan timeout)
    {
        var micros = (long)timeout.TotalMicroseconds;
        var value = new LibC.TimeVal { Seconds = micros / 1_000_000, Microseconds = micros % 1_000_000 };
        if (LibC.SetSockOpt(fd, LibC.SOL_SOCKET, option, &value, (uint)sizeof(LibC.TimeVal)) != 0)
        {
            throw new IOException($"setsockopt({option}) failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }
}
