using Akka.Actor;
using Akka.Serialization;
using CloonixActors.Protocol;
using CloonixActors.Protocol.Wire;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Serialization;

/// <summary>
/// Every message the client, the daemons and the journal exchange, serialized as remoting does it with the
/// project's own serialization HOCON (hocon/base.conf).
/// </summary>
public sealed class SerializationSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "serialization", output)
{
    public static TheoryData<Type> MessageTypes => MessageSamples.MessageTypes;

    [Fact]
    public void Reflection_finds_the_message_types_of_the_protocol()
    {
        Assert.Contains(typeof(ClientRequest), MessageSamples.ConcreteMessageTypes);
        Assert.Contains(typeof(LanAdded), MessageSamples.PersistedTypes);
        Assert.Contains(typeof(TopologySnapshot), MessageSamples.PersistedTypes);
        Assert.DoesNotContain(typeof(ClientRequest), MessageSamples.PersistedTypes);
    }

    [Fact]
    public void Every_message_type_has_a_sample()
    {
        var missing = MessageSamples.ConcreteMessageTypes.Where(t =>
        {
            try
            {
                return MessageSamples.For(t).GetType() != t;
            }
            catch (KeyNotFoundException)
            {
                return true;
            }
        });

        Assert.Empty(missing);
    }

    [Theory]
    [MemberData(nameof(MessageTypes))]
    public void Every_message_type_is_bound_to_Hyperion(Type type)
    {
        Assert.IsType<ProtocolHyperionSerializer>(Sys.Serialization.FindSerializerForType(type));
        Assert.IsType<ProtocolHyperionSerializer>(Sys.Serialization.FindSerializerFor(MessageSamples.For(type)));
    }

    [Theory]
    [MemberData(nameof(MessageTypes))]
    public void Every_message_survives_a_round_trip_through_its_serializer(Type type)
    {
        var sample = MessageSamples.For(type);
        var serializer = Sys.Serialization.FindSerializerFor(sample);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, sample);

        var bytes = Sys.Serialization.Serialize(sample);
        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);

        Assert.IsType(type, back);
        Structural.AssertEqual(sample, back);
    }

    [Fact]
    public void A_type_without_the_marker_is_refused_when_its_serializer_is_looked_up()
    {
        var ex = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => Sys.Serialization.FindSerializerFor(new NotAMessage("x")));

        Assert.Contains(typeof(NotAMessage).Name, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_type_without_the_marker_is_refused_when_it_is_serialized() =>
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => Sys.Serialization.Serialize(new NotAMessage("x")));

    [Fact]
    public async Task The_refusal_comes_from_the_project_settings_not_from_Akka_defaults()
    {
        using var plain = ActorSystem.Create("plain");
        try
        {
            Assert.IsNotType<HyperionSerializer>(plain.Serialization.FindSerializerFor(new NotAMessage("x")));
        }
        finally
        {
            await plain.Terminate();
        }
    }

    [Fact]
    public void Structural_comparison_sees_a_difference_inside_an_array()
    {
        var a = new TopologyListing([], [new LanView("lan1", "h", "cxab1", ["n1/0"])]);
        var b = new TopologyListing([], [new LanView("lan1", "h", "cxab1", ["n1/1"])]);

        Assert.Equal("$.Lans[0].Members[0]: 'n1/0' vs 'n1/1'", Structural.Difference(a, b, "$"));
    }

    [Fact]
    public void Structural_comparison_sees_a_difference_behind_an_interface()
    {
        var a = new ClientRequest("s", new AddContainer("n1", 1));
        var b = new ClientRequest("s", new AddContainer("n1", 2));
        var c = new ClientRequest("s", new AddLan("n1"));

        Assert.NotNull(Structural.Difference(a, b, "$"));
        Assert.NotNull(Structural.Difference(a, c, "$"));
        Assert.Null(Structural.Difference(a, a with { }, "$"));
    }

    private sealed record NotAMessage(string Text);
}
