using CloonixActors.Domain;
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

        if (Names.Problem(command.Node, "node") is { } problem)
        {
            return new CommandFailed(ErrorCode.InvalidArgument, problem);
        }

        if (!state.Nodes.TryGetValue(command.Node, out var node))
        {
            return new CommandFailed(ErrorCode.NotFound, state.Lans.ContainsKey(command.Node) ? $"'{command.Node}' is a lan, not a node" : $"no node named '{command.Node}'");
        }

        if (command.Nic < 0 || command.Nic >= node.Nics)
        {
            return new CommandFailed(ErrorCode.InvalidArgument, $"node '{node.Name}' has nics 0 to {node.Nics - 1}; there is no nic {command.Nic}");
        }

        if (node.KindOf(command.Nic) != NicKind.Spyable)
        {
            return new CommandFailed(ErrorCode.InvalidArgument, $"nic {node.Name}/{command.Nic} is a {NicKinds.Name(node.KindOf(command.Nic))} nic: only s (spyable) nics pass the relay that captures");
        }

        return null;
    }
}
