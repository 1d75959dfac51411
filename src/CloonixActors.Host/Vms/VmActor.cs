using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Vms;

/// <summary>Where the tiny image lives, the host paths a VM needs, and how its s nics' relays are made.</summary>
public sealed record VmEnvironment(string StateDir, string ImagesDir, bool VhostNet)
{
    /// <summary>The host's name, for the traffic events of s nics.</summary>
    public string HostName { get; init; } = "local";

    /// <summary>The s nics' relays: set by the daemon (their taps go into its switch namespace), faked by actor tests.</summary>
    public RelayFactory? Relays { get; init; }

    public string TinyKernel => Path.Combine(ImagesDir, "tiny", "vmlinuz");

    public string TinyInitrd => Path.Combine(ImagesDir, "tiny", "initrd.img");
}

/// <summary>
/// Owns one VM: its QEMU process, its directory (QMP and agent sockets, console log, disk overlay) and its
/// taps. Adopts a QEMU that a crashed cloonixd left running, else launches one; checks it twice a second
/// and relaunches it with back-off when it dies (the topology does not change); probes the guest agent
/// until it answers, then serves <c>exec</c>. Teardown: power button, then quit, then kill.
/// </summary>
public sealed class VmActor : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan HealthInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan AgentProbeInterval = TimeSpan.FromMilliseconds(500);

    private readonly NodeSpec _node;
    private readonly IVmPlane _plane;
    private readonly VmEnvironment _env;
    private readonly MemberGate _gate = new(Context);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waiting = [];
    private readonly Stopwatch _sinceLaunch = new();
    private int? _pid;
    private bool _agentReady;
    private bool _probing;
    private bool _starting;
    private bool _checkingHealth;
    private int _restarts;
    private int _failures;
    private Teardown? _pendingTeardown;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The project's messages only from this process or the cluster's members (see <see cref="MemberGate"/>).</summary>
    protected override bool AroundReceive(Receive receive, object message) => _gate.Refuses(message, Sender) || base.AroundReceive(receive, message);

    public static Props Props(NodeSpec node, IVmPlane plane, VmEnvironment env, IActorRef? replyTo) =>
        Akka.Actor.Props.Create(() => new VmActor(node, plane, env, replyTo));

    public VmActor(NodeSpec node, IVmPlane plane, VmEnvironment env, IActorRef? replyTo)
    {
        _node = node;
        _plane = plane;
        _env = env;
        if (replyTo is not null)
        {
            _waiting.Add(replyTo);
        }

        Receive<Launched>(OnLaunched);
        Receive<Health>(_ => CheckHealth());
        Receive<HealthChecked>(OnHealthChecked);
        Receive<Reconcile>(_ => Start());
        Receive<ProbeAgent>(_ => Probe());
        Receive<AgentAnswered>(OnAgentAnswered);
        Receive<ExecInNode>(Exec);
        Receive<NodeReady>(r => Context.Parent.Forward(r));
        Receive<ApplyImpairment>(a => ToSpy(a.Nic, a, a.ReplyTo));
        Receive<StartCapture>(c => ToSpy(c.Nic, c, Sender));
        Receive<InjectRelayFault>(f => ToSpy(f.Nic, f, Sender));
        Receive<Teardown>(t =>
        {
            if (_starting)
            {
                _pendingTeardown = t;
                return;
            }

            StopVm(t);
        });
    }

    private sealed record Launched(int? Pid, bool Adopted, string? Error);

    private sealed record Health;

    /// <summary>What /proc said of QEMU <paramref name="Pid"/>, read on the pool.</summary>
    private sealed record HealthChecked(int Pid, bool Alive);

    private sealed record ProbeAgent;

    private sealed record AgentAnswered(bool Ok);

    private sealed record Stopped(IActorRef? ReplyTo, TeardownDone Result);

    protected override void PreStart()
    {
        // The relays first: QEMU connects to their sockets as it starts.
        foreach (var nic in NicBinding.Of(_node).Where(n => n.Binding.Relayed).Select(n => n.Nic))
        {
            Context.ActorOf(
                SpyActor.Props(_env.HostName, _node, nic, RelayNode.Vm(VmPaths.SpyNodeSocket(_env.StateDir, _node.Name, nic)), _env.Relays ?? throw new InvalidOperationException("s nics need a relay factory")),
                SpyRouting.ChildName(nic));
        }

        Start();
    }

    private void ToSpy(int nic, object message, IActorRef? replyTo) => SpyRouting.ToSpy(Context, _node.Name, nic, message, replyTo);

    private VmLaunch Plan()
    {
        var state = _env.StateDir;
        var vm = _node.Vm!;
        var boot = vm.Image == "tiny"
            ? new VmBoot(_env.TinyKernel, _env.TinyInitrd, null)
            : new VmBoot(null, null, VmPaths.Overlay(state, _node.Name));
        var nics = NicBinding.Of(_node).Select(n => new VmNic(n.Nic, QemuCommandLine.Mac(_env.HostName, _node.Id, n.Nic), n.Binding.QemuNetdev(_node, n.Nic, state) ?? throw new InvalidOperationException($"a vm has no {_node.KindOf(n.Nic)} nic"))).ToList();
        return new VmLaunch(_node.Name, vm.RamMb, vm.Cpus, boot, nics, _plane.Accel, VmPaths.Qmp(state, _node.Name), VmPaths.Agent(state, _node.Name), VmPaths.Console(state, _node.Name), _env.VhostNet);
    }

    private void Start()
    {
        if (_starting || _pid is not null)
        {
            return;
        }

        _starting = true;
        var plane = _plane;
        var name = _node.Name;
        var launch = Plan();
        var dir = VmPaths.Dir(_env.StateDir, name);
        var baseImage = _node.Vm!.Image == "tiny" ? null : _node.Vm.Image;
        Task.Run(async () =>
        {
            if (plane.Running(name) is { } running)
            {
                return new Launched(running, true, null);
            }

            return new Launched(await plane.LaunchAsync(launch, dir, baseImage).ConfigureAwait(false), false, null);
        }).PipeTo(Self, failure: ex => new Launched(null, false, ex.GetBaseException().Message));
        _sinceLaunch.Restart();
    }

    private void OnLaunched(Launched l)
    {
        _starting = false;
        if (l.Error is not null || l.Pid is null)
        {
            var delay = RetryBackoff.Delay(++_failures, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
            _log.Warning("vm {0}: QEMU did not start: {1}; retrying in {2} s", _node.Name, l.Error, delay.TotalSeconds);
            Fail($"vm {_node.Name}: recorded, but QEMU did not start ({l.Error}); it will be retried");
            Timers.StartSingleTimer("retry", Reconcile.Instance, delay);
            RunPendingTeardown();
            return;
        }

        _pid = l.Pid;
        _log.Info("vm {0}: QEMU {1} (pid {2}, {3})", _node.Name, l.Adopted ? "adopted" : "launched", l.Pid, _plane.Accel.Kind);
        Timers.StartPeriodicTimer("health", new Health(), HealthInterval);
        if (!l.Adopted)
        {
            // QEMU made its taps anew: OVS must re-open them (a port whose device came back stays dead).
            var taps = NicBinding.Of(_node).Select(n => n.Binding.QemuNetdev(_node, n.Nic, _env.StateDir)).OfType<VmNetdev.Tap>().Select(t => t.Ifname).ToList();
            Context.Parent.Tell(new NodeReady(_node.Name, taps));
        }

        if (RunPendingTeardown())
        {
            return;
        }

        _agentReady = false;
        if (_node.Vm!.Image != "tiny")
        {
            // A user's disk may have no cloonix agent: QEMU running is all that can be promised.
            foreach (var w in _waiting)
            {
                w.Tell(new CommandSucceeded($"vm {_node.Name} launched from {_node.Vm.Image}"));
            }

            _waiting.Clear();
        }

        Timers.StartSingleTimer("probe", new ProbeAgent(), TimeSpan.FromMilliseconds(200));
    }

    private bool RunPendingTeardown()
    {
        if (_pendingTeardown is not { } t)
        {
            return false;
        }

        _pendingTeardown = null;
        Fail($"vm {_node.Name} was removed while it was starting");
        StopVm(t);
        return true;
    }

    /// <summary>Reads /proc off this thread (twice a second, for every VM); one read at a time.</summary>
    private void CheckHealth()
    {
        if (_pid is not { } pid || _checkingHealth)
        {
            return;
        }

        _checkingHealth = true;
        var (plane, name) = (_plane, _node.Name);
        // A read that fails tells nothing: taken as alive, the next tick asks again.
        Task.Run(() => plane.IsAlive(name, pid)).PipeTo(Self, success: alive => new HealthChecked(pid, alive), failure: _ => new HealthChecked(pid, true));
    }

    private void OnHealthChecked(HealthChecked c)
    {
        _checkingHealth = false;
        // A stale answer (QEMU relaunched or adopted anew since it was asked) says nothing of the QEMU now.
        if (_pid is { } pid && pid == c.Pid && !c.Alive)
        {
            _restarts++;
            _pid = null;
            _agentReady = false;
            Timers.Cancel("health");
            var delay = RetryBackoff.Delay(++_failures, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
            _log.Warning("vm {0}: QEMU (pid {1}) died; relaunching in {2} s (restart {3})", _node.Name, pid, delay.TotalSeconds, _restarts);
            Timers.StartSingleTimer("retry", Reconcile.Instance, delay);
        }
    }

    private void Probe()
    {
        if (_pid is null || _agentReady || _probing)
        {
            return;
        }

        _probing = true;
        _plane.ExecAsync(_node.Name, ["true"], TimeSpan.FromSeconds(2))
            .PipeTo(Self, success: r => new AgentAnswered(r.ExitCode == 0), failure: _ => new AgentAnswered(false));
    }

    private void OnAgentAnswered(AgentAnswered a)
    {
        _probing = false;
        if (!a.Ok)
        {
            Timers.StartSingleTimer("probe", new ProbeAgent(), AgentProbeInterval);
            return;
        }

        _agentReady = true;
        _failures = 0;
        var seconds = _sinceLaunch.Elapsed.TotalSeconds;
        _log.Info("vm {0}: guest agent ready {1:0.0} s after launch", _node.Name, seconds);
        foreach (var w in _waiting)
        {
            w.Tell(new CommandSucceeded($"vm {_node.Name} running ({_plane.Accel.Kind}); guest agent ready after {seconds:0.0} s"));
        }

        _waiting.Clear();
    }

    private void Fail(string message)
    {
        foreach (var w in _waiting)
        {
            w.Tell(new CommandFailed(ErrorCode.DataPlane, message));
        }

        _waiting.Clear();
    }

    private void Exec(ExecInNode cmd)
    {
        if (!_agentReady)
        {
            Sender.Tell(new CommandFailed(ErrorCode.Unavailable, $"vm {_node.Name}: the guest agent is not ready yet"));
            return;
        }

        _plane.ExecAsync(_node.Name, cmd.Argv, TimeSpan.FromSeconds(cmd.TimeoutSeconds))
            .PipeTo(Sender, success: r => new ExecResult(r.ExitCode, r.Stdout, r.Stderr, r.TimedOut), failure: ex => new CommandFailed(ErrorCode.DataPlane, ex.GetBaseException().Message));
    }

    private void StopVm(Teardown t)
    {
        Timers.CancelAll();
        Fail($"vm {_node.Name} is being removed");
        var plane = _plane;
        var name = _node.Name;
        var known = _pid;
        var replyTo = t.ReplyTo;
        Task.Run(async () =>
        {
            // No pid known (QEMU never heard of): the pid file may still name one.
            if ((known ?? plane.Running(name)) is { } p)
            {
                await plane.StopAsync(name, p, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }

            plane.Remove(name);
        }).PipeTo(
            Self,
            success: () => new Stopped(replyTo, new TeardownDone($"vm {name}", null)),
            failure: ex => new Stopped(replyTo, new TeardownDone($"vm {name}", ex.GetBaseException().Message)));
        Become(() =>
        {
            Receive<Stopped>(s =>
            {
                s.ReplyTo?.Tell(s.Result);
                Context.Stop(Self);
            });
            Receive<ExecInNode>(_ => Sender.Tell(new CommandFailed(ErrorCode.NotFound, $"vm {name} is being removed")));
            Receive<ISpyCommand>(_ => Sender.Tell(new CommandFailed(ErrorCode.NotFound, $"vm {name} is being removed")));
            Receive<ApplyImpairment>(a => a.ReplyTo?.Tell(new CommandSucceeded($"vm {name} is being removed")));
            ReceiveAny(_ => { });
        });
    }
}
