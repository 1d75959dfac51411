using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using CloonixActors.Protocol;
using CloonixActors.Protocol.Wire;

namespace CloonixActors.Host.Security;

/// <summary>
/// Who may hand a host's internal actors the project's messages: actors of this process and actors of the
/// cluster's current members (joining, up, leaving or exiting: a leaving host still hands its singleton
/// over). Clients are neither: their requests go through <c>/user/api</c> and its secret only. A message
/// of the project from anyone else is dropped, with one rate-limited log line.
/// <para>
/// An actor takes the gate in one line, in front of all its handlers:
/// <c>protected override bool AroundReceive(Receive receive, object message) => _gate.Refuses(message, Sender) || base.AroundReceive(receive, message);</c>
/// Akka's own messages (journal replies, cluster events, timers) are not the gate's business; from the
/// network only the project's messages get this far (the serializers refuse other types).
/// </para>
/// <para>
/// A message that came over the network without a sender arrives as if from dead letters, which cannot be
/// told from a local one: no sender is refused too, so internal messages are always sent with a sender.
/// The sender's address is what the peer wrote: the gate keeps out programs that are not members; proving
/// who a peer is belongs to the transport (mutual TLS).
/// </para>
/// </summary>
public sealed class MemberGate
{
    private static readonly TimeSpan LogPeriod = TimeSpan.FromSeconds(10);

    private readonly ActorSystem _system;
    private readonly Cluster? _cluster;
    private readonly ILoggingAdapter _log;
    private readonly string _actor;
    private readonly LogThrottle _throttle;

    /// <param name="clock">The log throttle's time source (tests); the UTC clock by default.</param>
    public MemberGate(IActorContext context, Func<DateTime>? clock = null)
    {
        _system = context.System;
        _cluster = context.System is ExtendedActorSystem { Provider: IClusterActorRefProvider } ? Cluster.Get(context.System) : null;
        _log = Logging.GetLogger(context);
        _actor = context.Self.Path.ToStringWithoutAddress();
        _throttle = new LogThrottle(LogPeriod, clock);
    }

    /// <summary>True when the message is the project's and its sender is neither local nor a member: it is dropped (and logged).</summary>
    public bool Refuses(object message, IActorRef? sender)
    {
        if (message is not ICloonixMessage || IsTrusted(sender))
        {
            return false;
        }

        if (_throttle.ShouldLog(out var suppressed))
        {
            _log.Warning(
                "{0}: refused {1} from {2}: not a member of the cluster (clients go through /user/api){3}",
                _actor,
                message.GetType().Name,
                sender is null || sender.IsNobody() ? "no sender" : sender.Path.Address.ToString(),
                LogThrottle.Suffix(suppressed, LogPeriod));
        }

        return true;
    }

    /// <summary>An actor of this process, or of a current member of the cluster.</summary>
    public bool IsTrusted(IActorRef? sender)
    {
        if (sender is null || sender.IsNobody() || sender.Equals(_system.DeadLetters))
        {
            return false;
        }

        var address = sender.Path.Address;
        return address.HasLocalScope || IsMember(address);
    }

    /// <summary>A current member of the cluster (this host included).</summary>
    public bool IsMember(Address address)
    {
        if (_cluster is null)
        {
            return false;
        }

        if (address == _cluster.SelfAddress)
        {
            return true;
        }

        foreach (var member in _cluster.State.Members)
        {
            if (member.Address == address)
            {
                return member.Status is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Exiting;
            }
        }

        return false;
    }
}
