using Akka.Actor;
using Akka.Event;
using CloonixActors.DataPlane;

namespace CloonixActors.Host.Actors;

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

    private readonly OvsDaemons _daemons;
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

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(OvsDaemons daemons, string datapath) =>
        Akka.Actor.Props.Create(() => new OvsActor(daemons, datapath));

    public OvsActor(OvsDaemons daemons, string datapath)
    {
        _daemons = daemons;
        _datapath = datapath;
        Starting();
    }

    private sealed record Started(int DbPid, int SwitchPid, bool Adopted);

    private sealed record StartFailed(string Error);

    private sealed record Health;

    private sealed record Retry;

    protected override void PreStart() => StartDaemons();

    private void StartDaemons()
    {
        var daemons = _daemons;
        Task.Run(async () =>
        {
            var db = daemons.RunningDbServer();
            var sw = daemons.RunningSwitch();
            var adopted = db is not null && sw is not null;
            db ??= await daemons.StartDbServerAsync().ConfigureAwait(false);
            sw ??= await daemons.StartSwitchAsync().ConfigureAwait(false);
            return (object)new Started(db.Value, sw.Value, adopted);
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
            _log.Info("Open vSwitch {0} (ovsdb-server {1}, ovs-vswitchd {2}), generation {3}", s.Adopted ? "adopted" : "started", s.DbPid, s.SwitchPid, _generation);
            Context.Parent.Tell(new OvsReady(_generation));
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
            var dbAlive = _dbPid is { } d && Processes.IsAlive(d, "ovsdb-server");
            var swAlive = _switchPid is { } s && Processes.IsAlive(s);
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
        Receive<GetOvsInfo>(_ => Sender.Tell(new OvsInfo(_dbPid is not null && _switchPid is not null && _lastError is null, _dbPid, _switchPid, _dbRestarts, _switchRestarts, _datapath, _lastError)));
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
    private static TimeSpan Backoff(int failures)
    {
        var ms = MinBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 10));
        return TimeSpan.FromMilliseconds(Math.Min(ms, MaxBackoff.TotalMilliseconds));
    }
}
