using Akka.Actor;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Agent;

/// <summary>
/// Waits for the answers of every actor that carries out part of one command, then gives the client one
/// reply: success with the command's message, or the first failure. Gives up after a timeout, since a
/// client must never wait forever.
/// </summary>
public sealed class ReplyCollector : ReceiveActor, IWithTimers
{
    private readonly List<string> _failures = [];
    private int _remaining;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(int expected, IActorRef client, string successMessage, TimeSpan timeout, Action<IActorRef>? then = null) =>
        Akka.Actor.Props.Create(() => new ReplyCollector(expected, client, successMessage, timeout, then));

    /// <param name="then">Runs instead of replying, with the client, once all parts are done (e.g. a purge's final sweep).</param>
    public ReplyCollector(int expected, IActorRef client, string successMessage, TimeSpan timeout, Action<IActorRef>? then)
    {
        _remaining = expected;
        Receive<CommandSucceeded>(_ => Count(client, successMessage, then));
        Receive<TeardownDone>(d =>
        {
            if (d.Error is not null)
            {
                _failures.Add($"{d.What}: {d.Error}");
            }

            Count(client, successMessage, then);
        });
        Receive<CommandFailed>(f =>
        {
            _failures.Add(f.Message);
            Count(client, successMessage, then);
        });
        Receive<TimedOut>(_ =>
        {
            client.Tell(new CommandFailed(ErrorCode.DataPlane, $"recorded, but the data plane did not confirm within {timeout.TotalSeconds:0} s; it will keep reconciling"));
            Context.Stop(Self);
        });
        _timeout = timeout;
        if (expected == 0)
        {
            Self.Tell(new CommandSucceeded(successMessage));
            _remaining = 1;
        }
    }

    private readonly TimeSpan _timeout;

    protected override void PreStart() => Timers.StartSingleTimer("timeout", new TimedOut(), _timeout);

    private sealed record TimedOut;

    private void Count(IActorRef client, string successMessage, Action<IActorRef>? then)
    {
        if (--_remaining > 0)
        {
            return;
        }

        if (_failures.Count > 0)
        {
            client.Tell(new CommandFailed(ErrorCode.DataPlane, _failures[0]));
        }
        else if (then is not null)
        {
            then(client);
        }
        else
        {
            client.Tell(new CommandSucceeded(successMessage));
        }

        Context.Stop(Self);
    }
}
