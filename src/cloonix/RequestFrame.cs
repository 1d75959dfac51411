using Akka.Actor;
using CloonixActors.Protocol;

namespace CloonixActors.Cli;

/// <summary>
/// Refuses, before sending, a request Akka.Remote would not carry: a message larger than
/// <c>akka.remote.dot-netty.tcp.maximum-frame-size</c> is dropped by the sending side with only a log
/// line, and the client would wait for a reply that cannot come (a deploy of a very large topology file).
/// </summary>
public static class RequestFrame
{
    /// <summary>Room left in a frame for ClusterClient's envelope and remoting's (paths, manifests).</summary>
    private const long EnvelopeAllowance = 64 * 1024;

    private const long AkkaDefaultFrame = 128000;

    /// <summary>Throws a <see cref="ClientException"/> (exit 2) when <paramref name="command"/> would not fit one frame.</summary>
    public static void Check(ActorSystem system, IClientCommand command)
    {
        ArgumentNullException.ThrowIfNull(system);
        var frame = system.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size", AkkaDefaultFrame) ?? AkkaDefaultFrame;
        var request = new ClientRequest(string.Empty, command);
        var size = system.Serialization.FindSerializerFor(request).ToBinary(request).LongLength;
        if (size > frame - EnvelopeAllowance)
        {
            throw new ClientException(
                $"the {command.GetType().Name} request is {size} bytes, more than the {frame / (1024.0 * 1024):0.#} MiB remoting frame can carry; split it (several topology files) or raise akka.remote.dot-netty.tcp.maximum-frame-size on every host and client",
                2);
        }
    }
}
