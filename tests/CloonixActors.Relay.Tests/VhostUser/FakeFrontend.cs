using System.Net.Sockets;
using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Relay.Tests.VhostUser;

/// <summary>
/// A scripted vhost-user front-end (what QEMU is to the back-end), speaking through the back-end's own
/// connection class. Requests that change state are sent with need-reply, so the ack proves the back-end
/// applied them: the tests never sleep.
/// </summary>
internal sealed class FakeFrontend : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly VhostUserConnection _connection;
    private readonly VhostUserMessage _reply = new();
    private readonly byte[] _buffer = new byte[VhostUserHeader.Length + VhostUserCodec.MaxPayloadSize];

    private FakeFrontend(VhostUserConnection connection)
    {
        _connection = connection;
    }

    public static FakeFrontend Connect(string path) => new(VhostUserConnection.Connect(path, Timeout));

    public static FakeFrontend Adopt(Socket socket) => new(new VhostUserConnection(socket, Timeout));

    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload, bool needReply = false, ReadOnlySpan<int> fds = default)
    {
        var flags = VhostUserHeader.Version | (needReply ? VhostUserHeader.NeedReplyFlag : 0);
        SendRaw(request, flags, (uint)payload.Length, payload, fds);
    }

    /// <summary>Sends a header as given (any flags or size) followed by <paramref name="payload"/>.</summary>
    public void SendRaw(VhostUserRequest request, uint flags, uint size, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        VhostUserCodec.WriteHeader(_buffer, new VhostUserHeader(request, flags, size));
        payload.CopyTo(_buffer.AsSpan(VhostUserHeader.Length));
        Assert.True(_connection.Send(_buffer.AsSpan(0, VhostUserHeader.Length + payload.Length), fds), _connection.CloseReason);
    }

    /// <summary>Sends with need-reply and returns the ack status (0 = done), checking the reply's header.</summary>
    public ulong Ack(VhostUserRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        Send(request, payload, needReply: true, fds);
        return ReadU64Reply(request);
    }

    public ulong AckU64(VhostUserRequest request, ulong value, ReadOnlySpan<int> fds = default)
    {
        Span<byte> payload = stackalloc byte[8];
        VhostUserCodec.WriteU64(payload, value);
        return Ack(request, payload, fds);
    }

    public ulong AckState(VhostUserRequest request, uint index, uint num)
    {
        Span<byte> payload = stackalloc byte[VringState.Length];
        VhostUserCodec.WriteVringState(payload, new VringState(index, num));
        return Ack(request, payload);
    }

    public ulong AckFile(VhostUserRequest request, uint index, int fd)
    {
        Span<byte> payload = stackalloc byte[8];
        VhostUserCodec.WriteVringFile(payload, new VringFile(index, fd < 0));
        return fd < 0 ? Ack(request, payload) : Ack(request, payload, [fd]);
    }

    public ulong AckAddress(VringAddress address)
    {
        Span<byte> payload = stackalloc byte[VringAddress.Length];
        VhostUserCodec.WriteVringAddress(payload, address);
        return Ack(VhostUserRequest.SetVringAddr, payload);
    }

    public ulong AckMemTable(ReadOnlySpan<MemoryRegionDescription> regions, ReadOnlySpan<int> fds)
    {
        Span<byte> payload = stackalloc byte[VhostUserCodec.MemoryTableHeaderLength + (regions.Length * MemoryRegionDescription.Length)];
        VhostUserCodec.WriteMemoryTable(payload, regions);
        return Ack(VhostUserRequest.SetMemTable, payload, fds);
    }

    /// <summary>A GET_* request answered with a u64.</summary>
    public ulong Get(VhostUserRequest request)
    {
        Send(request, []);
        return ReadU64Reply(request);
    }

    public VringState GetVringBase(uint index)
    {
        Span<byte> payload = stackalloc byte[VringState.Length];
        VhostUserCodec.WriteVringState(payload, new VringState(index, 0));
        Send(VhostUserRequest.GetVringBase, payload);
        var reply = ReceiveReply(VhostUserRequest.GetVringBase);
        return VhostUserCodec.ReadVringState(reply.Payload);
    }

    public VhostUserMessage ReceiveReply(VhostUserRequest request)
    {
        Assert.Equal(VhostUserReceiveStatus.Message, _connection.Receive(_reply));
        Assert.Equal(request, _reply.Header.Request);
        Assert.Equal(VhostUserHeader.ReplyFlags, _reply.Header.Flags);
        return _reply;
    }

    /// <summary>True once the back-end closed the connection (read returns end of file).</summary>
    public bool WaitClosed()
    {
        try
        {
            return _connection.Receive(_reply) == VhostUserReceiveStatus.Closed;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _reply.Reset();
        _connection.Dispose();
    }

    private ulong ReadU64Reply(VhostUserRequest request)
    {
        var reply = ReceiveReply(request);
        Assert.Equal(8u, reply.Header.Size);
        return VhostUserCodec.ReadU64(reply.Payload);
    }
}
