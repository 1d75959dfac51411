using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Remote;
using Akka.Serialization;
using CloonixActors.Protocol;
using CloonixActors.Protocol.Wire;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Serialization;

/// <summary>
/// What a peer can make this process build: bytes handed to <c>Serialization.Deserialize(bytes, id, manifest)</c>
/// as remoting hands them over, under a remote provider with the project's HOCON. Each refusal has a control
/// showing that Akka's defaults would have built the same bytes.
/// </summary>
public sealed class InboundRefusalSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(RemoteConfig.WithFallback(TestConfig.Base), "inbound", output)
{
    private const int HyperionId = -5;
    private const int JsonId = 1;
    private const int DaemonCreateId = 3;

    private static readonly Config RemoteConfig = ConfigurationFactory.ParseString("""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        """);

    [Fact]
    public void The_allow_list_holds_the_protocol_records_and_what_their_fields_hold_and_nothing_else()
    {
        Assert.Contains(typeof(ClientRequest), WireTypes.Allowed);
        Assert.Contains(typeof(RegistrySnapshot), WireTypes.Allowed);
        Assert.Contains(typeof(string[]), WireTypes.Allowed);
        Assert.Contains(typeof(TimeSpan), WireTypes.Allowed);
        Assert.Contains(typeof(ErrorCode), WireTypes.Allowed);
        Assert.Contains(typeof(ActorRefBase.Surrogate), WireTypes.Allowed);
        Assert.All(MessageSamples.ConcreteMessageTypes, t => Assert.Contains(t, WireTypes.Allowed));

        // Not the serializers living in the same assembly, nor anything of another assembly's insides.
        Assert.DoesNotContain(typeof(ProtocolHyperionSerializer), WireTypes.Allowed);
        Assert.DoesNotContain(typeof(LogThrottle), WireTypes.Allowed);
        Assert.DoesNotContain(typeof(System.Diagnostics.Process), WireTypes.Allowed);
        Assert.DoesNotContain(typeof(Version), WireTypes.Allowed);
    }

    [Fact]
    public void Names_match_in_Hyperion_short_form_and_in_full()
    {
        Assert.True(WireTypes.IsAllowed("System.String[], System.Private.CoreLib,%core%"));
        Assert.True(WireTypes.IsAllowed(typeof(LanAdded).AssemblyQualifiedName));
        Assert.True(WireTypes.IsAllowed("CloonixActors.Protocol.LanAdded, CloonixActors.Protocol"));
        Assert.False(WireTypes.IsAllowed("CloonixActors.Protocol.LanAdded, CloonixActors.Protocolx"));
        Assert.False(WireTypes.IsAllowed("System.Diagnostics.Process, System.Diagnostics.Process"));
        Assert.False(WireTypes.IsAllowed(null));
    }

    [Fact]
    public void A_Hyperion_payload_of_a_foreign_type_is_refused_and_its_type_is_never_built()
    {
        var bytes = Renamed(PlainHyperion(new CanaryA("x")), nameof(CanaryA), nameof(CanaryB));

        var ex = Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, HyperionId, string.Empty));

        Assert.Contains(nameof(CanaryB), ex.ToString(), StringComparison.Ordinal);
        Assert.False(CanaryLog.BuiltB, "the refused type's static constructor ran");
    }

    [Fact]
    public void Control_without_the_allow_list_the_same_kind_of_payload_is_built()
    {
        var bytes = Renamed(PlainHyperion(new CanaryA("x")), nameof(CanaryA), nameof(CanaryC));

        var built = new HyperionSerializer((ExtendedActorSystem)Sys).FromBinary(bytes, typeof(object));

        Assert.Equal("x", Assert.IsType<CanaryC>(built).Text);
        Assert.True(CanaryLog.BuiltC);
    }

    [Fact]
    public void A_harmless_looking_framework_type_is_refused_too()
    {
        var bytes = PlainHyperion(new Version(1, 2, 3));

        Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, HyperionId, string.Empty));
    }

    [Fact]
    public void A_type_that_carries_the_marker_but_lives_outside_the_protocol_is_refused_even_inside_a_project_message()
    {
        // The root (ClientRequest) is allowed; the command inside it names a type of this test assembly.
        var bytes = PlainHyperion(new ClientRequest("s3cret", new ForeignCommand("id -u")));

        Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, HyperionId, string.Empty));
    }

    [Fact]
    public void A_System_Diagnostics_Process_payload_is_refused()
    {
        // Hyperion's own short deny list has this one; the allow-list would refuse it as well.
        var bytes = Renamed(PlainHyperion(new CanaryA("x")), $"CloonixActors.Tests.Serialization.{nameof(CanaryA)}, CloonixActors.Tests", "System.Diagnostics.Process, System.Diagnostics.Process");

        EventFilter.Error(contains: "System.Diagnostics.Process").ExpectOne(() =>
            Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, HyperionId, string.Empty)));
    }

    [Fact]
    public void Project_messages_still_round_trip_through_the_wire_serializer()
    {
        var sample = new ClientRequest("s3cret", new StartCapture("vm1", 0, TestActor, TestActor));

        var back = Sys.Serialization.Deserialize(Sys.Serialization.Serialize(sample), HyperionId, string.Empty);

        var request = Assert.IsType<ClientRequest>(back);
        var capture = Assert.IsType<StartCapture>(request.Command);
        Assert.Equal(TestActor, capture.Receiver);
        Assert.Equal(TestActor, capture.Reader);
    }

    [Fact]
    public void A_JSON_payload_under_serializer_id_1_is_refused()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"Text":"x"}""");

        var ex = Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, JsonId, typeof(JsonCanary).AssemblyQualifiedName!));

        Assert.Contains("JSON", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Control_Akka_defaults_build_the_JSON_payload()
    {
        using var plain = ActorSystem.Create("plain-json", RemoteConfig);
        try
        {
            var built = plain.Serialization.Deserialize(Encoding.UTF8.GetBytes("""{"Text":"x"}"""), JsonId, typeof(JsonCanary).AssemblyQualifiedName!);
            Assert.Equal("x", Assert.IsType<JsonCanary>(built).Text);
        }
        finally
        {
            await plain.Terminate();
        }
    }

    [Fact]
    public async Task Remote_deployment_is_refused()
    {
        using var plain = ActorSystem.Create("plain-deploy", RemoteConfig);
        try
        {
            // DaemonMsgCreate is internal to Akka.Remote: made as remoting makes it for a remote deployment.
            var type = typeof(RemoteActorRefProvider).Assembly.GetType("Akka.Remote.DaemonMsgCreate", throwOnError: true)!;
            var create = Activator.CreateInstance(type, Props.Create(() => new DeployCanary()), Deploy.None, "/remote/x", plain.DeadLetters)!;
            var serializer = plain.Serialization.FindSerializerFor(create);
            var bytes = serializer.ToBinary(create);
            var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, create);
            Assert.Equal(DaemonCreateId, serializer.Identifier);
            Assert.IsType(type, plain.Serialization.Deserialize(bytes, DaemonCreateId, manifest)); // control: built by default

            var ex = Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, DaemonCreateId, manifest));

            Assert.Contains("remote deployment", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            await plain.Terminate();
        }
    }

    [Fact]
    public async Task Status_Failure_PoisonPill_Kill_and_system_messages_other_than_the_death_watch_are_refused()
    {
        using var plain = ActorSystem.Create("plain-misc", RemoteConfig);
        try
        {
            foreach (var message in new object[] { new Status.Failure(new InvalidOperationException("x")), PoisonPill.Instance, Kill.Instance, new Akka.Dispatch.SysMsg.Terminate() })
            {
                var (bytes, id, manifest) = Wire(plain, message);
                Assert.IsType(message.GetType(), plain.Serialization.Deserialize(bytes, id, manifest)); // control: built by default

                var ex = Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, id, manifest));

                Assert.Contains("not accepted from other processes", ex.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            await plain.Terminate();
        }
    }

    [Fact]
    public void What_remoting_and_the_death_watch_need_still_passes()
    {
        var watcher = (IInternalActorRef)TestActor;
        foreach (var message in new object[] { new Identify(7), new ActorIdentity(7, TestActor), new Status.Success("ok"), new Akka.Dispatch.SysMsg.Watch(watcher, watcher), new Akka.Dispatch.SysMsg.Unwatch(watcher, watcher) })
        {
            var (bytes, id, manifest) = Wire(Sys, message);

            Assert.IsType(message.GetType(), Sys.Serialization.Deserialize(bytes, id, manifest));
        }
    }

    private static (byte[] Bytes, int Id, string Manifest) Wire(ActorSystem system, object message)
    {
        var serializer = system.Serialization.FindSerializerFor(message);
        return (serializer.ToBinary(message), serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, message));
    }

    [Fact]
    public void Nothing_is_sent_with_the_refused_serializers()
    {
        Assert.Throws<SerializationException>(() => Sys.Serialization.FindSerializerForType(typeof(JsonCanary)).ToBinary(new JsonCanary { Text = "x" }));
    }

    [Fact]
    public void A_refusal_is_logged_as_one_clear_error()
    {
        var bytes = PlainHyperion(new Version(1, 2, 3));

        EventFilter.Error(contains: "only the project's messages are accepted").ExpectOne(() =>
            Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, HyperionId, string.Empty)));
    }

    /// <summary>The bytes a peer with Akka's own Hyperion serializer (no allow-list) would send.</summary>
    private byte[] PlainHyperion(object value) => new HyperionSerializer((ExtendedActorSystem)Sys).ToBinary(value);

    /// <summary>The payload with a type name replaced (same length, so Hyperion's length prefix still holds).</summary>
    private static byte[] Renamed(byte[] bytes, string from, string to)
    {
        var text = Encoding.Latin1.GetString(bytes);
        Assert.Contains(from, text, StringComparison.Ordinal);
        var fromBytes = Encoding.UTF8.GetBytes(from);
        var toBytes = Encoding.UTF8.GetBytes(to);
        var at = text.IndexOf(from, StringComparison.Ordinal);
        if (fromBytes.Length == toBytes.Length)
        {
            var copy = (byte[])bytes.Clone();
            toBytes.CopyTo(copy, at);
            return copy;
        }

        // Hyperion writes a type name as its UTF-8 byte count (4 bytes, little-endian) then the bytes: rewrite both.
        Assert.Equal(fromBytes.Length, BitConverter.ToInt32(bytes, at - 4));
        return [.. bytes[..(at - 4)], .. BitConverter.GetBytes(toBytes.Length), .. toBytes, .. bytes[(at + fromBytes.Length)..]];
    }

    public sealed record ForeignCommand(string Line) : IClientCommand;

    public sealed class JsonCanary
    {
        public string Text { get; set; } = string.Empty;
    }

    private sealed class DeployCanary : ReceiveActor;
}

/// <summary>Records which canaries had their static constructor run (kept apart so reading it runs none).</summary>
public static class CanaryLog
{
    public static bool BuiltB { get; set; }

    public static bool BuiltC { get; set; }
}

public sealed class CanaryA(string text)
{
    public string Text { get; } = text;
}

public sealed class CanaryB
{
    static CanaryB() => CanaryLog.BuiltB = true;

    public string Text { get; } = string.Empty;
}

public sealed class CanaryC
{
    static CanaryC() => CanaryLog.BuiltC = true;

    public string Text { get; } = string.Empty;
}
