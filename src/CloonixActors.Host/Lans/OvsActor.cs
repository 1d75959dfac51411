using Akka.Actor;
using Akka.Event;
using CloonixActors.DataPlane;

namespace CloonixActors.Host.Lans;

/// <summary>
/// Owns this host's private ovsdb-server and ovs-vswitchd. Adopts the ones a previous cloonixd left
/// running (pid files), else starts them; checks them twice a second and restarts a dead one with
/// exponential back-off. After every (re)start it tells its parent <see cref="OvsReady"/>, so lans
/// re-apply their bridges and ports without any client doing anything.
/// </summary>
public sealed class OvsActor : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan HealthInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    private readonly OvsDaemons _preferred;
    private readonly OvsDaemons? _fallback;
    private OvsDaemons _daemons;
    private string _dpdkWhyNot;
    private readonly string _datapath;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _generation;
    private int _dbRestarts;
    private int _switchRestarts;
    private int _failuresInRow;
    private int? _dbPid;
    private int? _switchPid;
    private string? _lastError;
    private DateTime _runningSince;
    private bool _checkingHealth;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="daemons">The switch to run: the DPDK build where the host can, else the plain one.</param>
    /// <param name="fallback">The plain switch to fall back to when the DPDK build cannot start.</param>
    /// <param name="dpdkWhyNot">Why d nics are unavailable when <paramref name="daemons"/> is not the DPDK build.</param>
    public static Props Props(OvsDaemons daemons, string datapath, OvsDaemons? fallback = null, string dpdkWhyNot = "OVS-DPDK is not enabled") =>
        Akka.Actor.Props.Create(() => new OvsActor(daemons, datapath, fallback, dpdkWhyNot));

    public OvsActor(OvsDaemons daemons, string datapath, OvsDaemons? fallback, string dpdkWhyNot)
    {
        _preferred = daemons;
        _daemons = daemons;
        _fallback = fallback;
        _datapath = datapath;
        _dpdkWhyNot = dpdkWhyNot;
        Starting();
    }

    private sealed record Started(int DbPid, int SwitchPid, bool Adopted, OvsDaemons Used, string? DpdkFailure = null);

    private sealed record StartFailed(string Error);

    private sealed record Health;

    /// <summary>What /proc said of the daemons of <paramref name="Generation"/>, read on the pool.</summary>
    private sealed record HealthChecked(int Generation, bool DbAlive, bool SwitchAlive);

    private sealed record Retry;

    protected override void PreStart() => StartDaemons();

    private void StartDaemons()
    {
        var daemons = _preferred;
        var fallback = _fallback;
        Task.Run(async () =>
        {
            var db = daemons.RunningDbServer();
            var sw = daemons.RunningSwitch();
            var adopted = db is not null && sw is not null;
            db ??= await daemons.StartDbServerAsync().ConfigureAwait(false);
            if (sw is not null)
            {
                return (object)new Started(db.Value, sw.Value, adopted, daemons);
            }

            try
            {
                return new Started(db.Value, await daemons.StartSwitchAsync().ConfigureAwait(false), false, daemons);
            }
            catch (DataPlaneException ex) when (fallback is not null && daemons.Dpdk is not null)
            {
                // OVS-DPDK could not start (hugepages taken, EAL refused): lans keep working on the plain switch.
                return new Started(db.Value, fallback.RunningSwitch() ?? await fallback.StartSwitchAsync().ConfigureAwait(false), false, fallback, ex.Message);
            }
        }).PipeTo(Self, failure: ex => new StartFailed(ex.GetBaseException().Message));
    }

    private void Starting()
    {
        Receive<Started>(s =>
        {
            _dbPid = s.DbPid;
            _switchPid = s.SwitchPid;
            _runningSince = DateTime.UtcNow;
            _generation++;
            _lastError = null;
            _daemons = s.Used;
            if (s.DpdkFailure is not null)
            {
                _dpdkWhyNot = $"OVS-DPDK failed to start ({s.DpdkFailure})";
                _log.Warning("{0}; running the plain switch: d nics are unavailable", _dpdkWhyNot);
            }

            _log.Info("Open vSwitch {0} (ovsdb-server {1}, {2} {3}), generation {4}", s.Adopted ? "adopted" : "started", s.DbPid, Path.GetFileName(_daemons.SwitchBinary), s.SwitchPid, _generation);
            Context.Parent.Tell(new OvsReady(_generation, _daemons.Dpdk is not null, _dpdkWhyNot));
            Timers.StartPeriodicTimer("health", new Health(), HealthInterval);
            Become(Running);
        });
        Receive<StartFailed>(f =>
        {
            _lastError = f.Error;
            var delay = Backoff(++_failuresInRow);
            _log.Error("Open vSwitch failed to start: {0}; retrying in {1} ms", f.Error, (int)delay.TotalMilliseconds);
            Timers.StartSingleTimer("retry", new Retry(), delay);
        });
        Receive<Retry>(_ => StartDaemons());
        Common();
    }

    private void Running()
    {
        Receive<Health>(_ =>
        {
            // /proc is read off this thread (twice a second); one read at a time.
            if (_checkingHealth)
            {
                return;
            }

            _checkingHealth = true;
            var (generation, db, sw) = (_generation, _dbPid, _switchPid);
            Task.Run(() => new HealthChecked(generation, db is { } d && Processes.IsAlive(d, "ovsdb-server"), sw is { } s && Processes.IsAlive(s)))
                .PipeTo(Self, failure: _ => new HealthChecked(generation, true, true));
        });
        Receive<HealthChecked>(c =>
        {
            _checkingHealth = false;
            if (c.Generation != _generation)
            {
                return; // the daemons were started anew since: the next tick asks of them
            }

            var (dbAlive, swAlive) = (c.DbAlive, c.SwitchAlive);
            if (!swAlive && _daemons != _preferred)
            {
                // Try the preferred (DPDK) switch again at the next start.
                _daemons = _preferred;
            }
            if (dbAlive && swAlive)
            {
                // Back-off grows while OVS flaps and resets once it has stayed up for a while.
                if (DateTime.UtcNow - _runningSince > TimeSpan.FromSeconds(30))
                {
                    _failuresInRow = 0;
                }

                return;
            }

            _dbRestarts += dbAlive ? 0 : 1;
            _switchRestarts += swAlive ? 0 : 1;
            _lastError = $"{(dbAlive ? "ovs-vswitchd" : "ovsdb-server")} died";
            _log.Warning("Open vSwitch: {0}; restarting it", _lastError);
            Timers.Cancel("health");
            Become(Starting);
            var delay = Backoff(++_failuresInRow);
            Timers.StartSingleTimer("retry", new Retry(), delay);
        });
        Common();
    }

    private void Common()
    {
        Receive<GetOvsInfo>(_ => Sender.Tell(new OvsInfo(_dbPid is not null && _switchPid is not null && _lastError is null, _dbPid, _switchPid, _dbRestarts, _switchRestarts, _datapath, _lastError, Path.GetFileName(_daemons.SwitchBinary))));
        Receive<StopOvs>(_ =>
        {
            Timers.CancelAll();
            var replyTo = Sender;
            _daemons.StopAsync(TimeSpan.FromSeconds(5))
                .PipeTo(replyTo, success: () => new TeardownDone("ovs", null), failure: ex => new TeardownDone("ovs", ex.Message));
            Become(StoppedState);
        });
    }

    private void StoppedState()
    {
        Receive<GetOvsInfo>(_ => Sender.Tell(new OvsInfo(false, null, null, _dbRestarts, _switchRestarts, _datapath, "stopped")));
        ReceiveAny(_ => { });
    }

    /// <summary>0.2 s, 0.4 s, 0.8 s ... capped at 10 s; the first restart is quick because ports wait on it.</summary>
    private static TimeSpan Backoff(int failures) => RetryBackoff.Delay(failures, MinBackoff, MaxBackoff);
}
