using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.DataPlane.Reconcile;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using CloonixActors.Tests.Fakes;

namespace CloonixActors.Tests.DataPlane;

/// <summary>The executor of the leftover plan on the data-plane fakes and a state dir of its own.</summary>
public sealed class LeftoverSweepSpecs : IDisposable
{
    private const string Host = "h1";

    private readonly string _stateDir = Directory.CreateTempSubdirectory("cxa-sweep-").FullName;
    private readonly FakeContainerPlane _containers = new();
    private readonly FakeOvsSwitch _ovs = new();
    private readonly FakeTunnelPlane _tunnels = new();
    private readonly StubVmPlane _vms = new();

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    private LeftoverSweep Sweep(bool withVms = true) => new(Host, _stateDir, _containers, _ovs, withVms ? _vms : null, _tunnels);

    [Fact]
    public async Task It_surveys_the_host_and_removes_what_the_state_does_not_hold()
    {
        var desired = Topology.Empty.ApplyAll([new LanAdded("lan1", 1), new VmAdded("vm1", 2, "v", 256, 1, "tiny")]);
        _containers.Seed(OsNames.Namespace(Host, "vm1"));
        _containers.Seed(OsNames.Namespace(Host, "old"), "cxa9n0");
        _containers.Seed(OsNames.Namespace("h2", "other"));
        _ovs.Seed(OsNames.Bridge(1));
        _ovs.Seed(OsNames.Bridge(9), "cxa9n0");
        _ovs.Seed("br-user");
        await _tunnels.EnsureAsync(new VxlanSpec(OsNames.Vxlan(1), 1000, 4789, "198.18.100.1", 1450, []));
        await _tunnels.EnsureAsync(new VxlanSpec(OsNames.Vxlan(9), 1009, 4789, "198.18.100.1", 1450, []));
        Directory.CreateDirectory(VmPaths.Dir(_stateDir, "vm1"));
        Directory.CreateDirectory(VmPaths.Dir(_stateDir, "gone"));
        _vms.RunningPids["gone"] = 4242;

        var removed = await Sweep().SweepAsync(desired);

        Assert.Equal([OsNames.Namespace(Host, "old"), "vm gone", OsNames.Bridge(9), OsNames.Vxlan(9)], removed);
        Assert.Equal([OsNames.Namespace(Host, "vm1"), OsNames.Namespace("h2", "other")], _containers.Namespaces.Order(StringComparer.Ordinal));
        Assert.Equal(["br-user", OsNames.Bridge(1)], _ovs.Bridges.Order(StringComparer.Ordinal));
        Assert.Equal([OsNames.Vxlan(1)], await _tunnels.ListAsync());
        Assert.Equal([("gone", 4242)], _vms.Stopped);
        Assert.Equal(["gone"], _vms.Removed);
    }

    [Fact]
    public async Task A_host_without_vms_surveys_no_vm_directory()
    {
        Directory.CreateDirectory(VmPaths.Dir(_stateDir, "gone"));

        var found = await Sweep(withVms: false).SurveyAsync();

        Assert.Empty(found.VmDirectories);
        Assert.Empty(await Sweep(withVms: false).SweepAsync(Topology.Empty));
        Assert.True(Directory.Exists(VmPaths.Dir(_stateDir, "gone")));
    }

    [Fact]
    public async Task A_vm_leftover_whose_qemu_is_gone_only_loses_its_directory()
    {
        var removed = await Sweep().CarryOutAsync([new Leftover.Vm("gone")]);

        Assert.Equal(["vm gone"], removed);
        Assert.Empty(_vms.Stopped);
        Assert.Equal(["gone"], _vms.Removed);
    }

    /// <summary>QEMU by table: which VMs run (by pid file), and what was stopped and removed.</summary>
    private sealed class StubVmPlane : IVmPlane
    {
        public Dictionary<string, int> RunningPids { get; } = new(StringComparer.Ordinal);

        public List<(string Vm, int Pid)> Stopped { get; } = [];

        public List<string> Removed { get; } = [];

        public Acceleration Accel { get; } = new(AccelKind.Tcg, "TCG: tests");

        public int? Running(string vm) => RunningPids.TryGetValue(vm, out var pid) ? pid : null;

        public Task<int> LaunchAsync(VmLaunch launch, string vmDir, string? baseImage) => throw new NotSupportedException("a sweep launches nothing");

        public bool IsAlive(string vm, int pid) => RunningPids.GetValueOrDefault(vm) == pid;

        public Task StopAsync(string vm, int pid, TimeSpan grace)
        {
            Stopped.Add((vm, pid));
            RunningPids.Remove(vm);
            return Task.CompletedTask;
        }

        public Task<ProcessResult> ExecAsync(string vm, IReadOnlyList<string> argv, TimeSpan timeout) => throw new NotSupportedException("a sweep runs nothing in a VM");

        public void Remove(string vm) => Removed.Add(vm);
    }
}
