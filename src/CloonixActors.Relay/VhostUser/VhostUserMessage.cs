namespace CloonixActors.Relay.VhostUser;

/// <summary>
/// One received message: header, payload and the file descriptors that rode with it. Reused for every
/// receive on a connection (no allocation per message). The descriptors belong to the message until a
/// handler takes one with <see cref="TakeFd"/>; <see cref="CloseFds"/> closes whatever nobody took, so a
/// descriptor we do not keep can never leak.
/// </summary>
public sealed class VhostUserMessage
{
    private readonly byte[] _payload = new byte[VhostUserCodec.MaxPayloadSize];
    private readonly int[] _fds = new int[VhostUserCodec.MaxFds];

    public VhostUserHeader Header { get; internal set; }

    public VhostUserRequest Request => Header.Request;

    public int PayloadLength { get; internal set; }

    public ReadOnlySpan<byte> Payload => _payload.AsSpan(0, PayloadLength);

    /// <summary>How many descriptors arrived with the message (taken or not).</summary>
    public int FdCount { get; private set; }

    internal byte[] PayloadBuffer => _payload;

    /// <summary>Descriptor <paramref name="index"/>, still owned (and later closed) by the message.</summary>
    public int PeekFd(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, FdCount);
        return _fds[index];
    }

    /// <summary>Hands descriptor <paramref name="index"/> over to the caller, who then owns (and closes) it.</summary>
    public int TakeFd(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, FdCount);
        var fd = _fds[index];
        if (fd < 0)
        {
            throw new InvalidOperationException($"descriptor {index} was already taken");
        }

        _fds[index] = -1;
        return fd;
    }

    /// <summary>Closes every descriptor nobody took.</summary>
    public void CloseFds()
    {
        for (var i = 0; i < FdCount; i++)
        {
            LibC.CloseFd(_fds[i]);
            _fds[i] = -1;
        }

        FdCount = 0;
    }

    /// <summary>Records a received descriptor; false when the message already has the maximum (the caller closes it).</summary>
    internal bool AddFd(int fd)
    {
        if (FdCount >= _fds.Length)
        {
            return false;
        }

        _fds[FdCount++] = fd;
        return true;
    }

    internal void Reset()
    {
        CloseFds();
        Header = default;
        PayloadLength = 0;
    }
}
