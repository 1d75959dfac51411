using Akka.Actor;

namespace CloonixActors.Protocol;

// The spyable path: live captures, traffic counters and impairments of s nics. A capture and an event
// subscription are streams: the client names an actor of its own (Receiver) that the cluster sends to
// directly, and acknowledges what it got so a slow reader costs the capture frames, never the lan.

/// <summary>A request about one s nic; the host that runs the node answers it.</summary>
public interface ISpyCommand : IClientCommand
{
    string Node { get; }

    int Nic { get; }
}

/// <summary>
/// Start copying the nic's frames, both directions, as pcap bytes to <paramref name="Receiver"/>.
/// <paramref name="Reader"/> is the client's own actor when <paramref name="Receiver"/> is a host's proxy
/// for it (set by the host the client reached): the only sender whose acknowledgements and stop count.
/// </summary>
public sealed record StartCapture(string Node, int Nic, IActorRef Receiver, IActorRef? Reader = null) : ISpyCommand;

/// <summary>
/// The capture runs; <paramref name="Session"/> takes <see cref="CaptureAck"/> and <see cref="StopCapture"/>,
/// sent with the reader as their sender.
/// </summary>
public sealed record CaptureStarted(string Node, int Nic, IActorRef Session) : IClientReply;

/// <summary>The next piece of the pcap stream (the first one starts with the pcap file header).</summary>
public sealed record CaptureChunk(long Sequence, byte[] Data) : ICloonixMessage;

/// <summary>The receiver wrote every chunk up to <paramref name="Sequence"/>; sent at least every two seconds as a keep-alive.</summary>
public sealed record CaptureAck(long Sequence) : ICloonixMessage;

/// <summary>Ask the session to end the capture; it answers with <see cref="CaptureStopped"/>.</summary>
public sealed record StopCapture : ICloonixMessage;

/// <summary>
/// The capture ended. <paramref name="Frames"/> were written to the stream, <paramref name="Dropped"/> were
/// left out because the reader fell behind; <paramref name="Counted"/> is what the relay's counters saw
/// (both directions) while the capture was on, so Frames + Dropped = Counted.
/// </summary>
public sealed record CaptureStopped(string Node, int Nic, long Frames, long Dropped, long Counted, string Reason) : ICloonixMessage;

/// <summary>Stream this cluster's events (traffic counters of s nics, about once a second) to <paramref name="Receiver"/>.</summary>
public sealed record SubscribeEvents(IActorRef Receiver) : IClientCommand;

public sealed record EventsSubscribed(IActorRef Session) : IClientReply;

/// <summary>The receiver is still there (sent every few seconds); without it the subscription ends.</summary>
public sealed record EventsKeepAlive : ICloonixMessage;

/// <summary>
/// Traffic of one s nic: totals since its relay started ("in" = towards the node, "out" = from it), the
/// rates over the last interval, and the relay's restarts.
/// </summary>
public sealed record NicTraffic(
    string Host,
    string Node,
    int Nic,
    DateTimeOffset At,
    long PacketsIn,
    long BytesIn,
    long PacketsOut,
    long BytesOut,
    long Drops,
    double PacketsPerSecondIn,
    double PacketsPerSecondOut,
    double BitsPerSecondIn,
    double BitsPerSecondOut,
    int RelayRestarts) : ICloonixMessage;

/// <summary>Which way an impairment applies: "in" (towards the node), "out" (from it), or "both".</summary>
public static class ImpairDirections
{
    public const string In = "in";
    public const string Out = "out";
    public const string Both = "both";

    public static bool IsValid(string? d) => d is In or Out or Both;
}

/// <summary>
/// Set the impairment of an s nic in one or both directions (all zero removes it). Recorded in the desired
/// state: it survives restarts. Delay and jitter in milliseconds, loss in percent, rate in Mbit/s (0 = no cap).
/// </summary>
public sealed record ImpairNic(string Node, int Nic, string Direction, double DelayMs, double JitterMs, double LossPercent, double RateMbit) : ITopologyCommand, ISpyCommand;

/// <summary>
/// Fault injection for the project's tests: the relay thread of an s nic fails as a bug would make it.
/// Refused unless the daemon runs with <c>cloonix.fault-injection = on</c>.
/// </summary>
public sealed record InjectRelayFault(string Node, int Nic) : ISpyCommand;
