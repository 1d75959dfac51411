using CloonixActors.Domain;
using CloonixActors.Host.Agent;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Spy;

/// <summary>
/// The host's checks of a capture or fault injection before it goes to the relay of an s nic (through its
/// node's actor): the node exists, the nic is one of its own and is an s nic, fault injection is on.
/// </summary>
public static class SpyRequests
{
    /// <summary>Null when <paramref name="command"/> may go to its node; else the client's answer.</summary>
    public static CommandFailed? Refusal(ISpyCommand command, Topology state, bool faultInjection)
    {
        if (command is InjectRelayFault && !faultInjection)
        {
            return new CommandFailed(ErrorCode.Unavailable, "fault injection is off on this host (cloonix.fault-injection = on turns it on, for tests)");
        }

        if (Checks.Node(command.Node, state.Nodes.ContainsKey, state.Lans.ContainsKey) is { } refused)
        {
            return refused;
        }

        var node = state.Nodes[command.Node];
        if (Checks.Nic(node.Name, node.Nics, command.Nic) is { } nicRefused)
        {
            return nicRefused;
        }

        if (!NicBinding.Of(node.KindOf(command.Nic)).Relayed)
        {
            return new CommandFailed(ErrorCode.InvalidArgument, $"nic {node.Name}/{command.Nic} is a {NicKinds.Name(node.KindOf(command.Nic))} nic: only s (spyable) nics pass the relay that captures");
        }

        return null;
    }
}
