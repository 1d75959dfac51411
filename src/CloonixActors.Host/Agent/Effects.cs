using CloonixActors.Protocol;

namespace CloonixActors.Host.Agent;

/// <summary>What the OS must do after some events: one effect per lan or node touched, however many events touched it.</summary>
public abstract record Effect
{
    private Effect()
    {
    }

    public sealed record StartLan(string Lan) : Effect;

    public sealed record UpdateLan(string Lan) : Effect;

    public sealed record StopLan(string Lan) : Effect;

    public sealed record StartNode(string Node) : Effect;

    public sealed record StopNode(string Node) : Effect;

    /// <summary>An s nic's impairment changed: its relay applies the state's settings.</summary>
    public sealed record ImpairNic(string Node, int Nic) : Effect;

    /// <summary>The parking bridge holds the d nics that are on no lan (QEMU cannot start until OVS connects to them).</summary>
    public sealed record UpdatePark : Effect;
}

public static class Effects
{
    /// <summary>
    /// Folds a command's events into effects: a deploy of 100 endpoints on 25 lans makes 25 lan updates,
    /// not 100; a lan added and filled in one command is started with its members; a lan removed needs
    /// no update first.
    /// </summary>
    public static IReadOnlyList<Effect> Of(IEnumerable<ITopologyEvent> events)
    {
        var startLans = new List<string>();
        var stopLans = new HashSet<string>(StringComparer.Ordinal);
        var updateLans = new List<string>();
        var startNodes = new List<string>();
        var stopNodes = new List<string>();
        var impair = new List<(string Node, int Nic)>();
        var park = false;
        foreach (var e in events)
        {
            park |= e is VmNodeAdded v && v.Nics.Any(k => NicBinding.Of(k).ParkedOffLan);
            park |= e is NodeRemoved or NicConnected or NicDisconnected;
            switch (e)
            {
                case LanAdded a:
                    startLans.Add(a.Name);
                    break;
                case LanRemoved r:
                    stopLans.Add(r.Name);
                    break;
                case ContainerNodeAdded a:
                    startNodes.Add(a.Name);
                    break;
                case VmNodeAdded a:
                    startNodes.Add(a.Name);
                    break;
                case NodeRemoved r:
                    stopNodes.Add(r.Name);
                    break;
                case NicConnected c when !updateLans.Contains(c.Lan):
                    updateLans.Add(c.Lan);
                    break;
                case NicDisconnected d when !updateLans.Contains(d.Lan):
                    updateLans.Add(d.Lan);
                    break;
                case NicImpaired i when !impair.Contains((i.Node, i.Nic)):
                    impair.Add((i.Node, i.Nic));
                    break;
            }
        }

        return
        [
            .. startNodes.Select(n => new Effect.StartNode(n)),
            .. startLans.Where(l => !stopLans.Contains(l)).Select(l => new Effect.StartLan(l)),
            .. updateLans.Where(l => !stopLans.Contains(l) && !startLans.Contains(l)).Select(l => new Effect.UpdateLan(l)),
            .. stopLans.Select(l => new Effect.StopLan(l)),
            .. stopNodes.Select(n => new Effect.StopNode(n)),
            .. impair.Where(i => !stopNodes.Contains(i.Node)).Select(i => new Effect.ImpairNic(i.Node, i.Nic)),
            .. park ? [new Effect.UpdatePark()] : Array.Empty<Effect>(),
        ];
    }
}
