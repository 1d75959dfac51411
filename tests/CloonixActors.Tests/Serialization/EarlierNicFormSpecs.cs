using Akka.Serialization;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using CloonixActors.Protocol.Wire;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Serialization;

/// <summary>
/// Journals of earlier releases hold nic kinds as a count (<see cref="ContainerAdded"/>), as letters
/// (<see cref="VmAdded"/>, <see cref="ContainerNicKinds"/>) and inside snapshots of those: their golden
/// bytes, read back and applied, give the nodes the typed nic kinds the current events carry.
/// </summary>
public sealed class EarlierNicFormSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "earlier-nics", output)
{
    private T Stored<T>()
    {
        var serializer = Assert.IsType<ProtocolHyperionSerializer>(Sys.Serialization.FindSerializerForType(typeof(T)));
        var bytes = Convert.FromHexString(File.ReadAllText(GoldenBytesSpecs.GoldenFile(typeof(T))).Trim());
        return Assert.IsType<T>(serializer.FromBinary(bytes, typeof(T)));
    }

    [Fact]
    public void A_stored_ContainerAdded_is_a_container_of_veth_nics()
    {
        var node = Topology.Empty.Apply(Stored<ContainerAdded>()).Nodes["n1"];

        Assert.Equal(new NodeSpec("n1", 8, NodeKind.Container, [NicKind.Veth, NicKind.Veth, NicKind.Veth]), node);
    }

    [Fact]
    public void A_stored_ContainerNicKinds_makes_the_container_s_nics_spyable()
    {
        var state = Topology.Empty.Apply(new ContainerAdded("c1", 4, 2)).Apply(Stored<ContainerNicKinds>());

        Assert.Equal(new NodeSpec("c1", 4, NodeKind.Container, [NicKind.Veth, NicKind.Spyable]), state.Nodes["c1"]);
        // What the kinds allow follows them: the s nic takes an impairment, the veth refuses one.
        Assert.True(state.Decide(new ImpairNic("c1", 1, "in", 5, 0, 0, 0)).Accepted);
        Assert.Contains("is a veth nic", state.Decide(new ImpairNic("c1", 0, "in", 5, 0, 0, 0)).Rejection!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stored_VmAdded_reads_its_letters_as_nic_kinds()
    {
        var node = Topology.Empty.Apply(Stored<VmAdded>()).Nodes["vm1"];

        Assert.Equal(new NodeSpec("vm1", 12, NodeKind.Vm, [NicKind.VhostUser, NicKind.Tap, NicKind.Tap], new VmSpec(256, 1, "tiny")), node);
    }

    [Fact]
    public void A_stored_LabSnapshot_of_the_earlier_events_restores_and_snapshots_again_in_the_typed_form()
    {
        var restored = Topology.FromSnapshot(Stored<LabSnapshot>());

        Assert.Equal([NicKind.Veth, NicKind.Veth, NicKind.Veth], restored.Nodes["n1"].NicKinds.ToArray());
        Assert.Equal(new NodeSpec("vm1", 12, NodeKind.Vm, [NicKind.VhostUser, NicKind.Tap], new VmSpec(512, 2, "/srv/images/debian.qcow2")), restored.Nodes["vm1"]);
        Assert.Equal("lan1", restored.Endpoints[new NicRef("n1", 2)]);

        var again = restored.ToSnapshot();
        Assert.DoesNotContain(again.Events, e => e is ContainerAdded or VmAdded or ContainerNicKinds);
        var reread = Topology.FromSnapshot(again);
        Assert.Equal(restored.Nodes.Values, reread.Nodes.Values);
        Assert.Equal(restored.Endpoints, reread.Endpoints);
        Assert.Equal(restored.NextId, reread.NextId);
    }

    [Fact]
    public void A_stored_TopologySnapshot_restores_containers_of_veth_nics()
    {
        var restored = Topology.FromSnapshot(Stored<TopologySnapshot>());

        Assert.Equal(new NodeSpec("n1", 8, NodeKind.Container, [NicKind.Veth, NicKind.Veth, NicKind.Veth]), restored.Nodes["n1"]);
    }
}
