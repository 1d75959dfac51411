namespace CloonixActors.Relay.VhostUser;

/// <summary>Which side of the unix socket we are.</summary>
public enum VhostUserSocketMode
{
    /// <summary>We listen on the path and the front-end connects (QEMU's <c>-chardev socket,path=P</c> without server=on).</summary>
    Server,
    /// <summary>We connect to a path the front-end serves (OVS <c>net_virtio_user</c> with server=1), retrying until it answers.</summary>
    Client,
}

public sealed record VhostUserBackendOptions
{
    public required string SocketPath { get; init; }

    public VhostUserSocketMode Mode { get; init; } = VhostUserSocketMode.Server;

    /// <summary>Offer VIRTIO_F_RING_EVENT_IDX: only once the virtqueue code implements used/avail event suppression.</summary>
    public bool OfferEventIdx { get; init; }

    /// <summary>Offer VIRTIO_F_RING_INDIRECT_DESC: only once the virtqueue code walks indirect tables.</summary>
    public bool OfferIndirectDescriptors { get; init; }

    /// <summary>How long a single send or the rest of a started message may take before the peer counts as stalled.</summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Client mode: the pause between connection attempts.</summary>
    public TimeSpan ReconnectInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A name for the control thread and messages (the nic, e.g. "vm1 eth0").</summary>
    public string Name { get; init; } = "vhost-user";
}
