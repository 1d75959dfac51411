using CloonixActors.DataPlane.Qemu;
using CloonixActors.Domain;

namespace CloonixActors.DataPlane.Reconcile;

/// <summary>
/// Carries out a <see cref="LeftoverPlan"/> on one host: surveys what exists, asks the plan what must go,
/// removes it. Every call blocks on the OS (ip, ovs-vsctl, the state dir): run it off any actor thread.
/// </summary>
/// <param name="vms">Null on a host without VMs: no VM directory is surveyed or removed.</param>
/// <param name="tunnels">Null on a host without tunnels: no VXLAN device is surveyed or removed.</param>
public sealed class LeftoverSweep(string host, string stateDir, IContainerPlane containers, IOvsSwitch ovs, IVmPlane? vms, ITunnelPlane? tunnels)
{
    /// <summary>A VM that the desired state no longer holds gets this long after the power button before QEMU quits.</summary>
    private static readonly TimeSpan VmGrace = TimeSpan.FromSeconds(1);

    /// <summary>Removes what <paramref name="desired"/> does not hold; returns what was removed, as <see cref="Leftover.Describe"/> names it.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(Topology desired) =>
        await CarryOutAsync(LeftoverPlan.Of(desired, host, await SurveyAsync().ConfigureAwait(false))).ConfigureAwait(false);

    public async Task<HostInventory> SurveyAsync()
    {
        var vmsDir = Path.Combine(stateDir, "vms");
        return new HostInventory(
            containers.ListNamespaces(OsNames.NamespacePrefix(host)),
            vms is not null && Directory.Exists(vmsDir) ? [.. Directory.GetDirectories(vmsDir).Select(Path.GetFileName).OfType<string>()] : [],
            await ovs.ListBridgesAsync().ConfigureAwait(false),
            tunnels is null ? [] : await tunnels.ListAsync().ConfigureAwait(false));
    }

    /// <summary>Removes each leftover in the plan's order; the first failure ends the sweep (it throws).</summary>
    public async Task<IReadOnlyList<string>> CarryOutAsync(IReadOnlyList<Leftover> plan)
    {
        var removed = new List<string>();
        foreach (var leftover in plan)
        {
            switch (leftover)
            {
                case Leftover.Namespace ns:
                    await containers.DeleteContainerAsync(ns.Name, []).ConfigureAwait(false);
                    break;
                case Leftover.Vm vm when vms is not null:
                    if (vms.Running(vm.Name) is { } pid)
                    {
                        await vms.StopAsync(vm.Name, pid, VmGrace).ConfigureAwait(false);
                    }

                    vms.Remove(vm.Name);
                    break;
                case Leftover.Bridge bridge:
                    await ovs.DeleteBridgeAsync(bridge.Name).ConfigureAwait(false);
                    break;
                case Leftover.Tunnel device when tunnels is not null:
                    await tunnels.DeleteAsync(device.Name).ConfigureAwait(false);
                    break;
                default:
                    continue; // a VM or a tunnel on a host that has none: nothing to remove it with
            }

            removed.Add(leftover.Describe());
        }

        return removed;
    }
}
