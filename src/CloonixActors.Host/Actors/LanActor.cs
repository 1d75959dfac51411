using Akka.Actor;
using Akka.Event;
using CloonixActors.DataPlane;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Actors;

/// <summary>
/// Owns one lan's OVS bridge on this host and the bridge's ports. Level-triggered: whatever the trigger
/// (membership change, OVS restart, a node's nics appearing, the periodic timer), it compares the bridge
/// with the desired member set and applies the difference in one OVSDB transaction. Only one
/// reconciliation runs at a time; triggers that arrive meanwhile fold into one more pass.
/// </summary>
public sealed class LanActor : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(10);

    private readonly LanSpec _lan;
    private readonly IOvsSwitch _ovs;
    private readonly Func<string, bool> _portDeviceExists;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waiting = [];
    private IReadOnlySet<string> _members = new HashSet<string>();
    private bool _ovsReady;
    private bool _inFlight;
    private bool _dirty;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(LanSpec lan, IOvsSwitch ovs, Func<string, bool> portDeviceExists) =>
        Akka.Actor.Props.Create(() => new LanActor(lan, ovs, portDeviceExists));

    public LanActor(LanSpec lan, IOvsSwitch ovs, Func<string, bool> portDeviceExists)
    {
        _lan = lan;
        _ovs = ovs;
        _portDeviceExists = portDeviceExists;

        Receive<OvsReady>(_ =>
        {
            _ovsReady = true;
            Request(null);
        });
        Receive<SetLanMembers>(m =>
        {
            _members = m.Ports;
            Request(m.ReplyTo);
        });
        Receive<Reconcile>(_ => Request(null));
        Receive<Reconciled>(OnReconciled);
        Receive<Teardown>(t =>
        {
            Timers.CancelAll();
            var replyTo = t.ReplyTo;
            var name = _lan.Name;
            _ovs.DeleteBridgeAsync(_lan.Bridge).PipeTo(
                Self,
                success: () => new TornDown(replyTo, new TeardownDone($"lan {name}", null)),
                failure: ex => new TornDown(replyTo, new TeardownDone($"lan {name}", ex.GetBaseException().Message)));
            Become(TearingDown);
        });
    }

    private sealed record Reconciled(IReadOnlyList<IActorRef> Waiting, string? Error, int Missing);

    private sealed record TornDown(IActorRef? ReplyTo, TeardownDone Result);

    protected override void PreStart() => Timers.StartPeriodicTimer("reconcile", Reconcile.Instance, Period);

    private void TearingDown()
    {
        Receive<TornDown>(t =>
        {
            t.ReplyTo?.Tell(t.Result);
            Context.Stop(Self);
        });
        ReceiveAny(m =>
        {
            if (m is SetLanMembers { ReplyTo: { } r })
            {
                r.Tell(new CommandFailed(ErrorCode.Conflict, $"lan {_lan.Name} is being removed"));
            }
        });
    }

    private void Request(IActorRef? replyTo)
    {
        if (replyTo is not null)
        {
            _waiting.Add(replyTo);
        }

        if (!_ovsReady)
        {
            return;
        }

        if (_inFlight)
        {
            _dirty = true;
            return;
        }

        Run();
    }

    private void Run()
    {
        _inFlight = true;
        _dirty = false;
        var waiting = _waiting.ToList();
        _waiting.Clear();
        var bridge = _lan.Bridge;
        var desired = _members;
        var ovs = _ovs;
        var exists = _portDeviceExists;
        Task.Run(async () =>
        {
            await ovs.EnsureBridgeAsync(bridge).ConfigureAwait(false);
            var current = (await ovs.ListPortsAsync(bridge).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            // A port whose device does not exist yet is left out; the node's NodeReady brings us back.
            var present = desired.Where(exists).ToList();
            var add = present.Where(p => !current.Contains(p)).ToList();
            var remove = current.Where(p => !desired.Contains(p)).ToList();
            await ovs.ApplyPortsAsync(bridge, add, remove).ConfigureAwait(false);
            return new Reconciled(waiting, null, desired.Count - present.Count);
        }).PipeTo(Self, failure: ex => new Reconciled(waiting, ex.GetBaseException().Message, 0));
    }

    private void OnReconciled(Reconciled r)
    {
        _inFlight = false;
        if (r.Error is not null)
        {
            _log.Warning("lan {0}: bridge {1} not reconciled: {2}", _lan.Name, _lan.Bridge, r.Error);
        }

        foreach (var w in r.Waiting)
        {
            w.Tell(r.Error is null
                ? new CommandSucceeded($"lan {_lan.Name} applied")
                : new CommandFailed(ErrorCode.DataPlane, $"lan {_lan.Name}: recorded, but the bridge is not applied yet ({r.Error}); it will be retried"));
        }

        if (_dirty || _waiting.Count > 0)
        {
            Run();
        }
    }
}
