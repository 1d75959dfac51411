namespace CloonixActors.Relay.VhostUser;

/// <summary>
/// Everything the virtqueue code needs to run one started split ring. Valid from the
/// <see cref="VhostUserBackend.QueueReady"/> that hands it over until the matching
/// <see cref="VhostUserBackend.QueueStopped"/> returns: after that the back-end may close the
/// descriptors and unmap <see cref="Memory"/>, so the data path must drop every pointer it derived.
/// The ring pointers are host addresses already translated (and bounds-checked for the whole ring of
/// <see cref="Size"/> entries) through the memory table; buffers named by descriptors are guest-physical
/// and go through <see cref="MemoryTable.TryTranslateGuest"/>.
/// </summary>
/// <param name="Index">Ring index: 0 = receive queue (device writes to the driver), 1 = transmit queue.</param>
/// <param name="Size">Number of entries (SET_VRING_NUM), a power of two, at most 32768.</param>
/// <param name="Descriptors">Host pointer to the descriptor table (16 bytes per entry).</param>
/// <param name="Available">Host pointer to the available ring (flags, idx, ring[Size], used_event).</param>
/// <param name="Used">Host pointer to the used ring (flags, idx, ring[Size] of {id, len}, avail_event).</param>
/// <param name="Address">The ring addresses as QEMU sent them (its virtual addresses) and the log address.</param>
/// <param name="Base">
/// The next available-ring index to consume (SET_VRING_BASE, or where the data path stopped last time).
/// The used index to start from is the one in the used ring (<c>used->idx</c>): it lives in guest memory.
/// </param>
/// <param name="KickFd">Eventfd the driver kicks when it adds buffers; -1 means "poll the ring" (no descriptor).</param>
/// <param name="CallFd">Eventfd to write 1 to after adding used buffers (an interrupt); -1 when none was given.</param>
/// <param name="ErrFd">Eventfd to signal ring errors to the front-end; -1 when none was given.</param>
/// <param name="Features">The virtio features the driver acknowledged (SET_FEATURES).</param>
/// <param name="Memory">The guest memory the ring lives in.</param>
public sealed record QueueState(
    int Index,
    int Size,
    nint Descriptors,
    nint Available,
    nint Used,
    VringAddress Address,
    ushort Base,
    int KickFd,
    int CallFd,
    int ErrFd,
    VirtioFeatures Features,
    MemoryTable Memory)
{
    public bool Has(VirtioFeatures feature) => (Features & feature) == feature;
}

/// <summary>Why a started ring stopped.</summary>
public enum QueueStopReason
{
    /// <summary>GET_VRING_BASE: the front-end stops the device (driver reset, VM stop, shutdown).</summary>
    GetVringBase,
    /// <summary>SET_VRING_ENABLE 0.</summary>
    Disabled,
    /// <summary>
    /// A parameter of the running ring changed (call or kick descriptor, size, addresses, base, features):
    /// it is handed over again with a new <see cref="QueueState"/> right after.
    /// </summary>
    Reconfigured,
    /// <summary>A new SET_MEM_TABLE replaces the memory the ring pointers were translated through.</summary>
    MemoryTableChanged,
    /// <summary>RESET_OWNER (deprecated; disables every ring).</summary>
    ResetOwner,
    /// <summary>The front-end went away (QEMU exited, socket closed or reset, protocol error).</summary>
    Disconnected,
    /// <summary>The back-end itself is being disposed.</summary>
    Disposed,
}

/// <summary>A point-in-time view of one ring's configuration, for observers and tests.</summary>
public sealed record QueueInfo(
    int Index,
    uint Size,
    VringAddress? Address,
    ushort Base,
    bool KickSet,
    int KickFd,
    int CallFd,
    int ErrFd,
    bool Enabled,
    bool Started);

public sealed class QueueReadyEventArgs(QueueState state) : EventArgs
{
    public QueueState State { get; } = state;

    public int Index => State.Index;
}

/// <summary>
/// Raised when a started ring stops. The handler (the data path) must set <see cref="LastAvailIndex"/>
/// to the next available index it has not consumed: the back-end answers GET_VRING_BASE with it and
/// restarts the ring from it. It defaults to the base the ring was started with (nothing consumed).
/// </summary>
public sealed class QueueStoppedEventArgs(QueueState state, QueueStopReason reason) : EventArgs
{
    public QueueState State { get; } = state;

    public int Index => State.Index;

    public QueueStopReason Reason { get; } = reason;

    public ushort LastAvailIndex { get; set; } = state.Base;
}

/// <summary>The memory table now in force (null once the session ended and it was unmapped).</summary>
public sealed class MemoryTableChangedEventArgs(MemoryTable? table) : EventArgs
{
    public MemoryTable? Table { get; } = table;
}

/// <summary>One request handled: what it was, what we made of it, and the error if it failed.</summary>
public sealed class VhostUserMessageEventArgs(VhostUserHeader header, int fdCount, string summary, string? error) : EventArgs
{
    public VhostUserHeader Header { get; } = header;

    public VhostUserRequest Request => Header.Request;

    public int FdCount { get; } = fdCount;

    /// <summary>The decoded payload and outcome, for logs ("index=1 num=256", "2 regions mapped").</summary>
    public string Summary { get; } = summary;

    public string? Error { get; } = error;

    public override string ToString() =>
        $"{Request}({(uint)Request}) flags=0x{Header.Flags:x} size={Header.Size} fds={FdCount} {Summary}{(Error is null ? "" : $" ERROR: {Error}")}";
}

public sealed class VhostUserConnectionEventArgs(string? reason) : EventArgs
{
    /// <summary>Why a session ended (null on connect).</summary>
    public string? Reason { get; } = reason;
}
