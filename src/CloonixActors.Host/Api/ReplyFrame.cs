using System.Runtime.CompilerServices;
using Akka.Actor;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Api;

/// <summary>
/// Keeps a reply that Akka.Remote would not carry from being lost in silence: a message larger than
/// <c>akka.remote.dot-netty.tcp.maximum-frame-size</c> is dropped by the sending side with only a log
/// line, and the client waits until its timeout. A reply is serialized as remoting would serialize it
/// and, when it would not fit one frame, replaced by a <see cref="CommandFailed"/> that says why and
/// what to do. Exec output is capped well below the frame (OutputCap), so this concerns listings.
/// </summary>
public sealed class ReplyFrame
{
    /// <summary>Room left in a frame for the remoting envelope (recipient and sender paths, manifest, acks).</summary>
    public const long EnvelopeAllowance = 64 * 1024;

    private const long AkkaDefaultFrame = 128000;

    private static readonly ConditionalWeakTable<ActorSystem, ReplyFrame> BySystem = [];

    private readonly Akka.Serialization.Serialization _serialization;

    public ReplyFrame(Akka.Serialization.Serialization serialization, long maximumFrameSize)
    {
        _serialization = serialization;
        MaximumFrameSize = maximumFrameSize;
    }

    /// <summary>The frame size the system's remoting is configured with.</summary>
    public long MaximumFrameSize { get; }

    /// <summary>The largest serialized reply sent as it is.</summary>
    public long Limit => MaximumFrameSize - EnvelopeAllowance;

    public static ReplyFrame For(ActorSystem system) =>
        BySystem.GetValue(system, s => new ReplyFrame(
            s.Serialization,
            s.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size", AkkaDefaultFrame) ?? AkkaDefaultFrame));

    /// <summary><paramref name="reply"/> itself when it fits a frame, else one clear error.</summary>
    public static IClientReply Fit(ActorSystem system, IClientReply reply) => For(system).Fit(reply);

    /// <inheritdoc cref="Fit(ActorSystem, IClientReply)"/>
    public IClientReply Fit(IClientReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        if (reply is CommandSucceeded { Message.Length: < 4096 } or CommandFailed { Message.Length: < 4096 })
        {
            return reply; // the common case, too small to matter: not serialized twice
        }

        var size = SizeOf(reply);
        return size <= Limit ? reply : TooLarge(reply, size);
    }

    /// <summary>Bytes of <paramref name="message"/> as the serializer bound to its type writes it.</summary>
    public long SizeOf(object message) => _serialization.FindSerializerFor(message).ToBinary(message).LongLength;

    private CommandFailed TooLarge(IClientReply reply, long size)
    {
        var what = reply switch
        {
            TopologyListing l => $"the listing of {l.Nodes.Length} node(s) and {l.Lans.Length} lan segment(s)",
            ExecResult => "the exec output",
            _ => $"the reply ({reply.GetType().Name})",
        };
        return new CommandFailed(
            ErrorCode.Unavailable,
            $"{what} is {size} bytes, more than the {MaximumFrameSize / (1024.0 * 1024):0.#} MiB remoting frame can carry; raise akka.remote.dot-netty.tcp.maximum-frame-size (in --config) on every host and client");
    }
}
