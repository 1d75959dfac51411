namespace CloonixActors.IntegrationTests;

/// <summary>
/// N test hosts on one machine: a network namespace each, joined by a Linux bridge in an underlay
/// namespace of their own, addressed 198.18.100.1 to .N. Nothing touches the root namespace. Each host
/// runs its own cloonixd (and so its own Open vSwitch). Disposing stops the daemons one at a time and
/// deletes every namespace.
/// </summary>
public sealed class TestHosts : IDisposable
{
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];
    private readonly List<string> _namespaces = [];

    public TestHosts(int count, Func<int, string, string, Lab> makeLab)
    {
        var underlay = $"cxt-{_tag}-ul";
        Ip("netns", "add", underlay);
        _namespaces.Add(underlay);
        Ip("-n", underlay, "link", "add", "br0", "type", "bridge");
        Ip("-n", underlay, "link", "set", "br0", "up");
        for (var i = 1; i <= count; i++)
        {
            var ns = $"cxt-{_tag}-h{i}";
            Ip("netns", "add", ns);
            _namespaces.Add(ns);
            Ip("-n", underlay, "link", "add", $"uh{i}", "type", "veth", "peer", "name", "eth0", "netns", ns);
            Ip("-n", underlay, "link", "set", $"uh{i}", "master", "br0", "up");
            Ip("-n", ns, "link", "set", "lo", "up");
            Ip("-n", ns, "addr", "add", $"198.18.100.{i}/24", "dev", "eth0");
            Ip("-n", ns, "link", "set", "eth0", "up");
        }

        try
        {
            for (var i = 1; i <= count; i++)
            {
                Labs.Add(makeLab(i, $"cxt-{_tag}-h{i}", $"198.18.100.{i}"));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public List<Lab> Labs { get; } = [];

    /// <summary>The namespace of the underlay bridge; host i's link to it is the veth "uh{i}".</summary>
    public string Underlay => $"cxt-{_tag}-ul";

    /// <summary>Cuts test host <paramref name="i"/> (from 1) off the underlay: its link goes down on the bridge side.</summary>
    public void Cut(int i) => Ip("-n", Underlay, "link", "set", $"uh{i}", "down");

    public void Heal(int i) => Ip("-n", Underlay, "link", "set", $"uh{i}", "up");

    /// <summary>
    /// A namespace on the underlay that runs no cloonixd (198.18.100.<paramref name="i"/>), e.g. for a plain
    /// Linux VXLAN device; deleted with the hosts.
    /// </summary>
    public string AddPlainHost(int i)
    {
        var ns = $"cxt-{_tag}-x{i}";
        Ip("netns", "add", ns);
        _namespaces.Add(ns);
        Ip("-n", Underlay, "link", "add", $"ux{i}", "type", "veth", "peer", "name", "eth0", "netns", ns);
        Ip("-n", Underlay, "link", "set", $"ux{i}", "master", "br0", "up");
        Ip("-n", ns, "link", "set", "lo", "up");
        Ip("-n", ns, "addr", "add", $"198.18.100.{i}/24", "dev", "eth0");
        Ip("-n", ns, "link", "set", "eth0", "up");
        return ns;
    }

    private static void Ip(params string[] args)
    {
        var r = Lab.Run("ip", args);
        Assert.True(r.ExitCode == 0, $"ip {string.Join(' ', args)}: {r}");
    }

    public void Dispose()
    {
        // One at a time: stopping a whole cluster at once makes members wait for each other's exit.
        foreach (var lab in Enumerable.Reverse(Labs))
        {
            lab.Dispose();
        }

        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            Lab.Run("ip", ["netns", "del", ns]);
        }
    }
}
