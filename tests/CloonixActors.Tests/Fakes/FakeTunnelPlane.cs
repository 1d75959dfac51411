using CloonixActors.DataPlane;

namespace CloonixActors.Tests.Fakes;

/// <summary>VXLAN devices held in memory: their specs by name.</summary>
public sealed class FakeTunnelPlane : ITunnelPlane
{
    private readonly object _sync = new();
    private readonly Dictionary<string, VxlanSpec> _devices = new(StringComparer.Ordinal);

    public VxlanSpec? DeviceOf(string name)
    {
        lock (_sync)
        {
            return _devices.GetValueOrDefault(name);
        }
    }

    public Task<bool> EnsureAsync(VxlanSpec spec)
    {
        lock (_sync)
        {
            var recreated = !_devices.TryGetValue(spec.Device, out var old) || old.Vni != spec.Vni || old.Local != spec.Local || old.Port != spec.Port;
            _devices[spec.Device] = spec;
            return Task.FromResult(recreated);
        }
    }

    public Task DeleteAsync(string device)
    {
        lock (_sync)
        {
            _devices.Remove(device);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ListAsync()
    {
        lock (_sync)
        {
            return Task.FromResult<IReadOnlyList<string>>([.. _devices.Keys]);
        }
    }
}
