using CloonixActors.DataPlane;

namespace CloonixActors.Tests.DataPlane;

public sealed class VxlanSpecs
{
    private static readonly VxlanSpec Spec = new("cxav3", 1000, 4789, "198.18.100.1", 1450, ["198.18.100.2"]);

    [Fact]
    public void A_device_matches_on_id_port_and_local_address()
    {
        const string Show = "5: cxav3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue master ovs-system state UNKNOWN mode DEFAULT group default qlen 1000\\    link/ether 62:52:5c:74:4e:72 brd ff:ff:ff:ff:ff:ff link-netns cxt-ab-h1 promiscuity 1 \\    vxlan id 1000 local 198.18.100.1 srcport 0 0 dstport 4789 nolearning ttl auto ageing 300";
        Assert.True(LinuxVxlan.Matches(Show, Spec));
        Assert.False(LinuxVxlan.Matches(Show, Spec with { Vni = 1001 }));
        Assert.False(LinuxVxlan.Matches(Show, Spec with { Port = 4790 }));
        Assert.False(LinuxVxlan.Matches(Show, Spec with { Local = "198.18.100.9" }));
        Assert.False(LinuxVxlan.Matches("5: cxav3: <BROADCAST> mtu 1500 veth", Spec));
    }

    [Fact]
    public void Flood_peers_are_the_all_zero_entries()
    {
        const string Fdb = """
            00:00:00:00:00:00 dst 198.18.100.2 link-netnsid 0 self permanent
            00:00:00:00:00:00 dst 198.18.100.3 link-netnsid 0 self permanent
            4a:1b:00:11:22:33 dst 198.18.100.2 link-netnsid 0 self
            """;
        Assert.Equal(["198.18.100.2", "198.18.100.3"], LinuxVxlan.FloodPeers(Fdb).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("eth0", 1000, "198.18.100.1", "198.18.100.2")]
    [InlineData("cxav3;rm", 1000, "198.18.100.1", "198.18.100.2")]
    [InlineData("cxav3", 0, "198.18.100.1", "198.18.100.2")]
    [InlineData("cxav3", 1 << 24, "198.18.100.1", "198.18.100.2")]
    [InlineData("cxav3", 1000, "198.18.100.1 dev eth0", "198.18.100.2")]
    [InlineData("cxav3", 1000, "198.18.100.1", "-v")]
    [InlineData("cxav3", 1000, "198.18.100.1", "::1")]
    public async Task Bad_specs_never_reach_ip(string device, int vni, string local, string peer)
    {
        var plane = new LinuxVxlan("cxa.ovs.nosuchhost");
        await Assert.ThrowsAsync<DataPlaneException>(() => plane.EnsureAsync(new VxlanSpec(device, vni, 4789, local, 1450, [peer])));
    }
}
