using Akka.Actor;
using CloonixActors.Domain;
using CloonixActors.Host.Persistence;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Agent;

/// <summary>What the agent knows when <c>status</c> is asked, read on its own thread before the report is built off it.</summary>
public sealed record StatusFacts(
    HostSettings Settings,
    TimeSpan Uptime,
    int Nodes,
    int Lans,
    int Endpoints,
    MemberView[] Members,
    string Datapath,
    string Acceleration,
    JournalHealth Journal);

/// <summary>The host's answers to <c>list</c> and <c>status</c>, built from the agent's state and what its children report.</summary>
public static class HostStatus
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The desired topology as the client sees it: nodes with their nics and lans with their members.</summary>
    public static TopologyListing Listing(Topology state, string host, string stateDir, TunnelSettings tunnel, IReadOnlyDictionary<string, SetTunnel> tunnels)
    {
        var nodes = state.Nodes.Values.Select(n => new NodeView(
            n.Name,
            n.Kind == NodeKind.Vm ? "vm" : "cnt",
            host,
            n.Kind == NodeKind.Vm ? string.Empty : OsNames.Namespace(host, n.Name),
            [.. Enumerable.Range(0, n.Nics).Select(i => new NicView(i, NicKinds.Name(n.KindOf(i)), state.Endpoints.GetValueOrDefault(new NicRef(n.Name, i)), NodePorts.Of(n, i, stateDir).Name, ImpairmentText(state, new NicRef(n.Name, i)), ImpairmentView(state, new NicRef(n.Name, i), ImpairDirections.In), ImpairmentView(state, new NicRef(n.Name, i), ImpairDirections.Out)))],
            n.Vm?.RamMb ?? 0,
            n.Vm?.Cpus ?? 0,
            n.Vm?.Image));
        var mtu = tunnel.Enabled ? tunnel.InnerMtu : 1500;
        var lans = state.Lans.Values.Select(l => new LanView(l.Name, host, l.Bridge, [.. state.MembersOf(l.Name).Select(m => m.ToString())], tunnels.GetValueOrDefault(l.Name)?.Vni ?? 0, mtu));
        return new TopologyListing([.. nodes], [.. lans]);
    }

    /// <summary>The datapath line of <c>status</c>: whether d nics can be had, and if not, why.</summary>
    public static string Datapath(string datapath, OvsReady? ovs) => ovs is { Dpdk: true }
        ? $"{datapath}, OVS-DPDK (d nics available)"
        : $"{datapath} (d nics unavailable: {ovs?.DpdkWhyNot ?? "Open vSwitch is not up yet"})";

    /// <summary>
    /// Asks the OVS actor for its daemons and reads the journal (so <c>status</c> tells an outage before a change is
    /// refused; the agent hears of it as <see cref="JournalStillDown"/>), then builds the report.
    /// </summary>
    public static async Task<object> ReportAsync(StatusFacts facts, IActorRef ovsActor, ActorSystem system, string persistenceId, IActorRef agent)
    {
        var ovs = ovsActor.Ask<OvsInfo>(GetOvsInfo.Instance, AskTimeout);
        var health = facts.Journal;
        if (!health.IsDown && await JournalCheck.ProblemAsync(system, persistenceId, AskTimeout).ConfigureAwait(false) is { } problem)
        {
            agent.Tell(new JournalStillDown(problem), ActorRefs.NoSender);
            health = health.Failed(problem, DateTime.UtcNow);
        }

        await Task.WhenAny(ovs).ConfigureAwait(false);
        var settings = facts.Settings;
        return new StatusReport(
            settings.HostName,
            settings.StateDir,
            settings.Persistence,
            facts.Uptime,
            facts.Datapath,
            ovs.IsCompletedSuccessfully
                ? [new ProcessView("ovsdb-server", ovs.Result.DbServerPid ?? 0, ovs.Result.DbServerRestarts), new ProcessView("ovs-vswitchd", ovs.Result.SwitchPid ?? 0, ovs.Result.SwitchRestarts)]
                : [],
            facts.Members,
            facts.Nodes,
            facts.Lans,
            facts.Endpoints,
            facts.Acceleration,
            Journal: health.Describe(DateTime.UtcNow));
    }

    private static ImpairmentView? ImpairmentView(Topology state, NicRef nic, string direction) =>
        state.ImpairmentOf(nic, direction) is { IsNone: false } i ? new ImpairmentView(i.DelayMs, i.JitterMs, i.LossPercent, i.RateMbit) : null;

    private static string? ImpairmentText(Topology state, NicRef nic)
    {
        var (i, o) = (state.ImpairmentOf(nic, ImpairDirections.In), state.ImpairmentOf(nic, ImpairDirections.Out));
        return i.IsNone && o.IsNone ? null : i == o ? $"both: {i}" : $"in: {i}; out: {o}";
    }
}
