using System.Collections.Immutable;
using Akka.Actor;

namespace CloonixActors.Host.Coordinator;

/// <summary>
/// The hosts the coordinator has heard from and which of them are live: a host is live while its hellos
/// keep coming (<see cref="HelloLost"/>) and the cluster finds its member reachable. Holds each host's
/// agent and tunnel address, and how many requests it has in hand (its reports may predate their answers,
/// so they are not adopted meanwhile). No actor: the coordinator passes the time and the cluster's view in.
/// </summary>
public sealed class HostLiveness
{
    /// <summary>A host that has not said hello for this long is not live (its daemon or agent is gone).</summary>
    public static readonly TimeSpan HelloLost = (HostAgent.HelloPeriod * 3) + TimeSpan.FromSeconds(1);

    /// <summary>Reports from a host that just answered a command may predate it: they are not adopted for this long.</summary>
    public static readonly TimeSpan AdoptQuiet = TimeSpan.FromSeconds(2);

    private readonly Dictionary<string, HostLink> _hosts = new(StringComparer.Ordinal);

    /// <summary>The live hosts, as of the last <see cref="Update"/>.</summary>
    public ImmutableSortedSet<string> Live { get; private set; } = ImmutableSortedSet<string>.Empty;

    /// <summary>How many hosts have ever reported (live or not).</summary>
    public int Count => _hosts.Count;

    /// <summary>
    /// A host's hello: its link now points at <paramref name="agent"/>. Refused (false, and
    /// <paramref name="boundTo"/> says to whom) when another address that is still a member holds the name:
    /// a host's name belongs to the member that first reported under it, or another address would get
    /// the host's commands and rewrite its nodes.
    /// </summary>
    public bool Hello(string host, IActorRef agent, Address address, string? tunnelAddress, DateTime now, Func<Address, bool> isMember, out Address? boundTo)
    {
        boundTo = null;
        if (_hosts.TryGetValue(host, out var link) && link.Address is { } bound && bound != address && isMember(bound))
        {
            boundTo = bound;
            return false;
        }

        if (link is null)
        {
            link = new HostLink(host);
            _hosts[host] = link;
        }

        link.Agent = agent;
        link.Address = address;
        link.TunnelAddress = tunnelAddress ?? string.Empty;
        link.LastHello = now;
        link.Reachable = true;
        return true;
    }

    /// <summary>The cluster found the member at <paramref name="address"/> (un)reachable.</summary>
    public void SetReachable(Address address, bool reachable)
    {
        foreach (var link in _hosts.Values.Where(l => l.Address == address))
        {
            link.Reachable = reachable;
        }
    }

    /// <summary>
    /// The member at <paramref name="address"/> left the cluster. A host back under the same address (a new
    /// incarnation) may have said hello before the old incarnation's removal arrives: a link that spoke
    /// within a hello period is the new one, kept.
    /// </summary>
    public void Removed(Address address, DateTime now)
    {
        foreach (var link in _hosts.Values.Where(l => l.Address == address && now - l.LastHello > HostAgent.HelloPeriod).ToList())
        {
            _hosts.Remove(link.Name);
        }
    }

    /// <summary>Recomputes the live hosts: null when they did not change, else who was lost and who is back.</summary>
    public LiveChange? Update(DateTime now)
    {
        var live = _hosts.Values.Where(h => h.Reachable && now - h.LastHello < HelloLost).Select(h => h.Name).ToImmutableSortedSet(StringComparer.Ordinal);
        if (live.SetEquals(Live))
        {
            return null;
        }

        var change = new LiveChange(Live.Except(live), live.Except(Live));
        Live = live;
        return change;
    }

    /// <summary>Every one of <paramref name="members"/> (Up, with the host role) has reported: the coordinator knows the whole cluster.</summary>
    public bool AllSaidHello(IReadOnlyCollection<Address> members)
    {
        var known = _hosts.Values.Where(h => h.Address is not null).Select(h => h.Address!).ToHashSet();
        return members.Count > 0 && members.All(known.Contains);
    }

    /// <summary>The host has no request in hand and answered none just now: its report says what it holds.</summary>
    public bool MayAdopt(string host, DateTime now) =>
        _hosts.TryGetValue(host, out var link) && link.Pending == 0 && now - link.LastReply > AdoptQuiet;

    /// <summary>Requests went to <paramref name="hosts"/> (once per part).</summary>
    public void Began(IEnumerable<string> hosts)
    {
        foreach (var host in hosts)
        {
            if (_hosts.TryGetValue(host, out var link))
            {
                link.Pending++;
            }
        }
    }

    /// <summary>The requests that went to <paramref name="hosts"/> are answered.</summary>
    public void Ended(IEnumerable<string> hosts, DateTime now)
    {
        foreach (var host in hosts)
        {
            if (_hosts.TryGetValue(host, out var link))
            {
                link.Pending = Math.Max(0, link.Pending - 1);
                link.LastReply = now;
            }
        }
    }

    /// <summary>The agent of <paramref name="host"/> when it is live, else null.</summary>
    public IActorRef? AgentOf(string host) => Live.Contains(host) && _hosts.TryGetValue(host, out var link) ? link.Agent : null;

    /// <summary>The agent of every host ever heard of (live or not), by name.</summary>
    public IActorRef? KnownAgentOf(string host) => _hosts.TryGetValue(host, out var link) ? link.Agent : null;

    /// <summary>The agents of the live hosts among <paramref name="hosts"/>.</summary>
    public IReadOnlyDictionary<string, IActorRef> LiveAgents(IEnumerable<string> hosts) =>
        hosts.Distinct().Where(h => AgentOf(h) is not null).ToDictionary(h => h, h => _hosts[h].Agent, StringComparer.Ordinal);

    /// <summary>The tunnel address of each live host.</summary>
    public IReadOnlyDictionary<string, string> LiveTunnelAddresses() =>
        Live.Where(_hosts.ContainsKey).ToDictionary(h => h, h => _hosts[h].TunnelAddress, StringComparer.Ordinal);

    /// <summary>Every host heard of, by name, as `status` shows it.</summary>
    public IEnumerable<(string Name, string Address, string State, string TunnelAddress)> Describe(DateTime now) =>
        _hosts.Values.OrderBy(h => h.Name, StringComparer.Ordinal).Select(h => (
            h.Name,
            h.Address?.ToString() ?? string.Empty,
            Live.Contains(h.Name) ? "live" : !h.Reachable ? "unreachable" : $"silent for {(now - h.LastHello).TotalSeconds:0} s",
            h.TunnelAddress));

    /// <summary>Who stopped being live and who became live.</summary>
    public sealed record LiveChange(ImmutableSortedSet<string> Lost, ImmutableSortedSet<string> Back);

    private sealed class HostLink(string name)
    {
        public string Name { get; } = name;

        public IActorRef Agent { get; set; } = ActorRefs.Nobody;

        public Address? Address { get; set; }

        public string TunnelAddress { get; set; } = string.Empty;

        public DateTime LastHello { get; set; }

        public bool Reachable { get; set; } = true;

        public int Pending { get; set; }

        public DateTime LastReply { get; set; }
    }
}
