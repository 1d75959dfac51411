using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Serialization;

namespace CloonixActors.Protocol.Wire;

/// <summary>
/// Hyperion (serializer id -5, as before: journals and golden bytes stay readable) that builds only the
/// types of <see cref="WireTypes"/>. Hyperion's own check sees every type name in the payload before it
/// loads the type, so a payload naming any other type is refused before anything of it is built.
/// Bound in hocon/base.conf in place of Akka's HyperionSerializer.
/// </summary>
public sealed class ProtocolHyperionSerializer : HyperionSerializer
{
    private static readonly TimeSpan LogPeriod = TimeSpan.FromSeconds(10);
    private readonly LogThrottle _throttle = new(LogPeriod);

    public ProtocolHyperionSerializer(ExtendedActorSystem system)
        : this(system, ConfigurationFactory.Empty)
    {
    }

    public ProtocolHyperionSerializer(ExtendedActorSystem system, Config config)
        : base(system, HyperionSerializerSettings.Create(config.WithFallback(DefaultConfiguration())).WithDisallowUnsafeType(true).WithTypeFilter(WireTypes.Filter))
    {
    }

    public override object FromBinary(byte[] bytes, Type type)
    {
        try
        {
            return base.FromBinary(bytes, type);
        }
        catch (SerializationException ex) when (Refusal(ex) is { } evil)
        {
            if (_throttle.ShouldLog(out var suppressed))
            {
                system.Log.Error("refused a message naming type {0}: only the project's messages are accepted from the network{1}", evil.BadTypeString, LogThrottle.Suffix(suppressed, LogPeriod));
            }

            throw;
        }
    }

    private static Hyperion.Internal.EvilDeserializationException? Refusal(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is Hyperion.Internal.EvilDeserializationException evil)
            {
                return evil;
            }
        }

        return null;
    }
}

/// <summary>
/// Stands in for a serializer the project never needs, under its identifier, so that bytes tagged with
/// that identifier are refused (with one clear, rate-limited log line) instead of being built.
/// A string-manifest serializer: Akka hands it the manifest as is, without loading the type it names.
/// </summary>
public abstract class RefusingSerializer(ExtendedActorSystem system, string what) : SerializerWithStringManifest(system)
{
    private static readonly TimeSpan LogPeriod = TimeSpan.FromSeconds(10);
    private readonly LogThrottle _throttle = new(LogPeriod);

    public override string Manifest(object o) => string.Empty;

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"{obj?.GetType().FullName ?? "null"} is not sent: {what} is switched off (only the project's messages travel)");

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (_throttle.ShouldLog(out var suppressed))
        {
            system.Log.Error("refused a message for serializer {0} ({1}): {2} is switched off{3}", Identifier, Names.Printable(manifest, 120), what, LogThrottle.Suffix(suppressed, LogPeriod));
        }

        throw new SerializationException($"refused: {what} is switched off in this cluster (serializer id {Identifier})");
    }

    private static class Names
    {
        public static string Printable(string? text, int max)
        {
            var s = new string([.. (text ?? string.Empty).Take(max).Select(c => char.IsControl(c) ? '?' : c)]);
            return s.Length == 0 ? "no manifest" : $"manifest '{s}'";
        }
    }
}

/// <summary>
/// Akka's default JSON serializer (id 1, bound to System.Object) would build any type a peer names.
/// Every project message is bound to Hyperion and Akka's own messages to their protobuf serializers, so
/// nothing the project sends or persists uses it: it is replaced by this refusal.
/// </summary>
public sealed class RefusedJsonSerializer : RefusingSerializer
{
    public RefusedJsonSerializer(ExtendedActorSystem system)
        : base(system, "the JSON serializer")
    {
    }

    public RefusedJsonSerializer(ExtendedActorSystem system, Config config)
        : this(system) => _ = config;

    public override int Identifier => 1;
}

/// <summary>
/// Remote deployment (DaemonMsgCreate, serializer "daemon-create", id 3) lets a peer start an actor of
/// any type in this process. The project deploys nothing remotely: it is refused.
/// </summary>
public sealed class RefusedRemoteDeploymentSerializer : RefusingSerializer
{
    public RefusedRemoteDeploymentSerializer(ExtendedActorSystem system)
        : base(system, "remote deployment")
    {
    }

    public RefusedRemoteDeploymentSerializer(ExtendedActorSystem system, Config config)
        : this(system) => _ = config;

    public override int Identifier => 3;
}

/// <summary>
/// Akka.Remote's serializer of small Akka messages (akka-misc, id 16: Identify, ActorIdentity, heartbeats,
/// Status.Success...) without the three a peer must not send here: Status.Failure (Akka rebuilds its
/// exception by invoking the constructor of whatever type the peer names), PoisonPill and Kill (they stop
/// the actor before any of its code runs: any actor, /user/api included). The project sends none of them
/// across processes; sending them still works, receiving is refused.
/// </summary>
public sealed class GuardedMiscMessageSerializer : SerializerWithStringManifest
{
    private const string StatusFailureManifest = "STF";
    private const string PoisonPillManifest = "PP";
    private const string KillManifest = "K";

    private static readonly TimeSpan LogPeriod = TimeSpan.FromSeconds(10);
    private readonly LogThrottle _throttle = new(LogPeriod);
    private readonly Akka.Remote.Serialization.MiscMessageSerializer _inner;

    public GuardedMiscMessageSerializer(ExtendedActorSystem system)
        : base(system) => _inner = new Akka.Remote.Serialization.MiscMessageSerializer(system);

    public GuardedMiscMessageSerializer(ExtendedActorSystem system, Config config)
        : this(system) => _ = config;

    /// <summary>Akka.Remote's id for akka-misc (fixed here: a system without remoting has no identifier config for it).</summary>
    public override int Identifier => 16;

    public override string Manifest(object o) => _inner.Manifest(o);

    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest is StatusFailureManifest or PoisonPillManifest or KillManifest)
        {
            var what = manifest switch { StatusFailureManifest => "Status.Failure", PoisonPillManifest => "PoisonPill", _ => "Kill" };
            if (_throttle.ShouldLog(out var suppressed))
            {
                system.Log.Error("refused a {0} from the network: not accepted from other processes{1}", what, LogThrottle.Suffix(suppressed, LogPeriod));
            }

            throw new SerializationException($"refused: {what} is not accepted from other processes");
        }

        return _inner.FromBinary(bytes, manifest);
    }
}

/// <summary>
/// Akka.Remote's system-message serializer (akka-system-msg, id 22) for the death watch only (Watch,
/// Unwatch, DeathWatchNotification). The others serve remote deployment, which is off: a Terminate, a
/// Suspend or a Failed from a peer would stop, freeze or fail any actor of this process.
/// </summary>
public sealed class WatchOnlySystemMessageSerializer : Serializer
{
    private static readonly TimeSpan LogPeriod = TimeSpan.FromSeconds(10);
    private readonly LogThrottle _throttle = new(LogPeriod);
    private readonly Akka.Remote.Serialization.SystemMessageSerializer _inner;

    public WatchOnlySystemMessageSerializer(ExtendedActorSystem system)
        : base(system) => _inner = new Akka.Remote.Serialization.SystemMessageSerializer(system);

    public WatchOnlySystemMessageSerializer(ExtendedActorSystem system, Config config)
        : this(system) => _ = config;

    /// <summary>Akka.Remote's id for akka-system-msg (fixed here, as for akka-misc).</summary>
    public override int Identifier => 22;

    public override bool IncludeManifest => _inner.IncludeManifest;

    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    public override object FromBinary(byte[] bytes, Type type)
    {
        if (type == typeof(Akka.Dispatch.SysMsg.Watch) || type == typeof(Akka.Dispatch.SysMsg.Unwatch) || type == typeof(Akka.Dispatch.SysMsg.DeathWatchNotification))
        {
            return _inner.FromBinary(bytes, type);
        }

        if (_throttle.ShouldLog(out var suppressed))
        {
            system.Log.Error("refused a system message {0} from the network: only the death watch is accepted{1}", type?.Name ?? "without a type", LogThrottle.Suffix(suppressed, LogPeriod));
        }

        throw new SerializationException($"refused: system message {type?.Name ?? "without a type"} is not accepted from other processes");
    }
}
