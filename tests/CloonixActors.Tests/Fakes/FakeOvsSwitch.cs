using CloonixActors.DataPlane;

namespace CloonixActors.Tests.Fakes;

/// <summary>An Open vSwitch held in memory: bridges and their ports.</summary>
public sealed class FakeOvsSwitch : FakeDataPlane, IOvsSwitch
{
    public const string Delete = "del-br";
    public const string ListBridges = "list-br";
    public const string ListPorts = "list-ports";
    public const string Apply = "apply";

    private readonly Dictionary<string, SortedSet<string>> _bridges = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Bridges
    {
        get
        {
            lock (Sync)
            {
                return [.. _bridges.Keys.Order(StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>The ports of a bridge in ordinal order; null when the bridge does not exist.</summary>
    public IReadOnlyList<string>? PortsOf(string bridge)
    {
        lock (Sync)
        {
            return _bridges.TryGetValue(bridge, out var ports) ? [.. ports] : null;
        }
    }

    /// <summary>Puts a bridge in place as if an earlier run had left it.</summary>
    public void Seed(string bridge, params string[] ports)
    {
        lock (Sync)
        {
            _bridges[bridge] = new SortedSet<string>(ports, StringComparer.Ordinal);
        }
    }

    /// <summary>What a lost OVS database looks like: no bridge at all.</summary>
    public void Wipe()
    {
        lock (Sync)
        {
            _bridges.Clear();
        }
    }

    public async Task DeleteBridgeAsync(string bridge)
    {
        await Enter(Delete, bridge, []).ConfigureAwait(false);
        lock (Sync)
        {
            _bridges.Remove(bridge);
        }
    }

    public async Task<IReadOnlyList<string>> ListBridgesAsync()
    {
        await Enter(ListBridges, string.Empty, []).ConfigureAwait(false);
        return Bridges;
    }

    public async Task<IReadOnlyList<string>> ListPortsAsync(string bridge)
    {
        await Enter(ListPorts, bridge, []).ConfigureAwait(false);
        var ports = PortsOf(bridge);
        return ports is null ? [] : [.. ports];
    }

    /// <summary>Logged with arguments "+port" for each added and "-port" for each removed one.</summary>
    public async Task ApplyPortsAsync(string bridge, IReadOnlyCollection<PortSpec> portSpecs, IReadOnlyCollection<string> remove)
    {
        var add = portSpecs.Select(p => p.Name).ToList();
        await Enter(Apply, bridge, [.. add.Order(StringComparer.Ordinal).Select(p => "+" + p), .. remove.Order(StringComparer.Ordinal).Select(p => "-" + p)]).ConfigureAwait(false);
        lock (Sync)
        {
            if (!_bridges.TryGetValue(bridge, out var ports))
            {
                _bridges[bridge] = ports = new SortedSet<string>(StringComparer.Ordinal);
            }

            ports.ExceptWith(remove);
            ports.UnionWith(add);
        }
    }
}
