using Akka.Actor;
using Akka.Event;
using CloonixActors.DataPlane;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Lans;

/// <summary>
/// Owns one lan's OVS bridge on this host and the bridge's ports. Level-triggered: whatever the trigger
/// (membership change, OVS restart, a node's nics re-created, the periodic timer), it compares the bridge
/// with the desired member set and applies the difference in one OVSDB transaction. Only one
/// reconciliation runs at a time; triggers that arrive meanwhile fold into one more pass.
/// </summary>
public sealed class LanActor : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(10);

    private readonly LanSpec _lan;
    private readonly IOvsSwitch _ovs;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly bool _onlyWhileUsed;
    private readonly List<IActorRef> _waiting = [];
    private readonly HashSet<string> _bounce = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, PortSpec> _members = new Dictionary<string, PortSpec>();
    private bool _ovsReady;
    private bool _inFlight;
    private bool _dirty;
    private Teardown? _teardown;
    private readonly TunnelSettings? _tunnel;
    private readonly ITunnelPlane? _tunnels;
    private SetTunnel _wantedTunnel = SetTunnel.None;
    private bool _deviceMaybe = true;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(LanSpec lan, IOvsSwitch ovs, bool onlyWhileUsed = false, ITunnelPlane? tunnels = null, TunnelSettings? tunnel = null) =>
        Akka.Actor.Props.Create(() => new LanActor(lan, ovs, onlyWhileUsed, tunnels, tunnel));

    /// <param name="onlyWhileUsed">The bridge exists only while it has members (the parking bridge).</param>
    /// <param name="tunnels">Where this host makes VXLAN devices; null on a host without an underlay.</param>
    public LanActor(LanSpec lan, IOvsSwitch ovs, bool onlyWhileUsed, ITunnelPlane? tunnels, TunnelSettings? tunnel)
    {
        _lan = lan;
        _ovs = ovs;
        _onlyWhileUsed = onlyWhileUsed;
        _tunnels = tunnel is { Enabled: true } ? tunnels : null;
        _tunnel = tunnel;

        Receive<OvsReady>(_ =>
        {
            _ovsReady = true;
            Request(null);
        });
        Receive<SetLanMembers>(m =>
        {
            _members = m.Ports.ToDictionary(p => p.Name, StringComparer.Ordinal);
            Request(m.ReplyTo);
        });
        Receive<BouncePorts>(b =>
        {
            _bounce.UnionWith(b.Ports);
            Request(null);
        });
        Receive<SetTunnel>(t =>
        {
            if (t != _wantedTunnel)
            {
                _wantedTunnel = t;
                Request(null);
            }
        });
        Receive<Reconcile>(_ => Request(null));
        Receive<Reconciled>(OnReconciled);
        Receive<Teardown>(t =>
        {
            Timers.CancelAll();
            _teardown = t;
            if (!_inFlight)
            {
                StartTeardown();
            }
        });
        Receive<TornDown>(t =>
        {
            t.ReplyTo?.Tell(t.Result);
            Context.Stop(Self);
        });
    }

    private sealed record Reconciled(IReadOnlyList<IActorRef> Waiting, string? Error, bool? DeviceExists = null);

    private sealed record TornDown(IActorRef? ReplyTo, TeardownDone Result);

    protected override void PreStart() => Timers.StartPeriodicTimer("reconcile", Reconcile.Instance, Period);

    private void Request(IActorRef? replyTo)
    {
        if (_teardown is not null)
        {
            replyTo?.Tell(new CommandSucceeded($"lan {_lan.Name} is being removed"));
            return;
        }

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
        var bounce = _bounce.ToList();
        _bounce.Clear();
        var ovs = _ovs;
        var onlyWhileUsed = _onlyWhileUsed;
        var tunnels = _tunnels;
        var device = OsNames.Vxlan(_lan.Id);
        VxlanSpec? vxlan = tunnels is not null && _wantedTunnel is { Vni: > 0, Peers.Count: > 0 } t && _tunnel is { } ts
            ? new VxlanSpec(device, t.Vni, ts.Port, ts.LocalAddress, ts.InnerMtu, t.Peers)
            : null;
        var deleteDevice = tunnels is not null && vxlan is null && _deviceMaybe;
        Task.Run(async () =>
        {
            if (onlyWhileUsed && desired.Count == 0)
            {
                await ovs.DeleteBridgeAsync(bridge).ConfigureAwait(false);
                return new Reconciled(waiting, null);
            }

            bool? deviceExists = null;
            if (vxlan is not null)
            {
                // The lan spans hosts: its VXLAN device is one more port of the bridge.
                if (await tunnels!.EnsureAsync(vxlan).ConfigureAwait(false))
                {
                    bounce.Add(device);
                }

                desired = new Dictionary<string, PortSpec>(desired, StringComparer.Ordinal) { [device] = new PortSpec(device) };
                deviceExists = true;
            }
            else if (deleteDevice)
            {
                await tunnels!.DeleteAsync(device).ConfigureAwait(false);
                deviceExists = false;
            }

            var current = (await ovs.ListPortsAsync(bridge).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            // A port whose device vanished and came back under the same name stays dead in OVS until it is
            // removed and added again, in two transactions.
            var stale = bounce.Where(current.Contains).ToList();
            if (stale.Count > 0)
            {
                await ovs.ApplyPortsAsync(bridge, [], stale).ConfigureAwait(false);
                current.ExceptWith(stale);
            }

            var add = desired.Values.Where(p => !current.Contains(p.Name)).ToList();
            var remove = current.Where(p => !desired.ContainsKey(p)).ToList();
            // Also creates the bridge when it is missing (first start, or an OVS database lost).
            await ovs.ApplyPortsAsync(bridge, add, remove).ConfigureAwait(false);
            return new Reconciled(waiting, null, deviceExists);
        }).PipeTo(Self, failure: ex => new Reconciled(waiting, ex.GetBaseException().Message, vxlan is null ? null : true));
    }

    private void OnReconciled(Reconciled r)
    {
        _inFlight = false;
        _deviceMaybe = r.DeviceExists ?? _deviceMaybe;
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

        if (_teardown is not null)
        {
            StartTeardown();
        }
        else if (_dirty || _waiting.Count > 0)
        {
            Run();
        }
    }

    private void StartTeardown()
    {
        foreach (var w in _waiting)
        {
            w.Tell(new CommandSucceeded($"lan {_lan.Name} is being removed"));
        }

        _waiting.Clear();
        _inFlight = true;
        var replyTo = _teardown!.ReplyTo;
        var name = _lan.Name;
        var ovs = _ovs;
        var bridge = _lan.Bridge;
        var tunnels = _tunnels;
        var device = OsNames.Vxlan(_lan.Id);
        Task.Run(async () =>
        {
            await ovs.DeleteBridgeAsync(bridge).ConfigureAwait(false);
            if (tunnels is not null)
            {
                await tunnels.DeleteAsync(device).ConfigureAwait(false);
            }
        }).PipeTo(
            Self,
            success: () => new TornDown(replyTo, new TeardownDone($"lan {name}", null)),
            failure: ex => new TornDown(replyTo, new TeardownDone($"lan {name}", ex.GetBaseException().Message)));
    }
}
