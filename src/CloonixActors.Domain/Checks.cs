using CloonixActors.Protocol;

namespace CloonixActors.Domain;

/// <summary>
/// The one gate for "does this command name a node (a lan, a nic) that is there": the coordinator (against
/// its registry), a host's <see cref="Topology"/> and the host agent (against theirs) refuse with the same
/// words, so a client reads one message whichever of them answered first.
/// </summary>
public static class Checks
{
    /// <summary>Null when <paramref name="node"/> is a valid name, else the refusal.</summary>
    public static CommandFailed? NodeName(string? node) =>
        Names.Problem(node, "node") is { } problem ? new CommandFailed(ErrorCode.InvalidArgument, problem) : null;

    /// <summary>The refusal for a name that is no node here: a lan's name says so, since users mix them up.</summary>
    public static CommandFailed NoNode(string node, bool isLan) =>
        new(ErrorCode.NotFound, isLan ? $"'{node}' is a lan, not a node" : $"no node named '{node}'");

    /// <summary>The refusal for a name that is no lan here: a node's name says so.</summary>
    public static CommandFailed NoLan(string lan, bool isNode) =>
        new(ErrorCode.NotFound, isNode ? $"'{lan}' is a node, not a lan" : $"no lan named '{lan}'");

    /// <summary>Null when <paramref name="node"/> is a valid name of a node that <paramref name="isNode"/> knows, else the refusal.</summary>
    public static CommandFailed? Node(string? node, Func<string, bool> isNode, Func<string, bool> isLan) =>
        NodeName(node) ?? (isNode(node!) ? null : NoNode(node!, isLan(node!)));

    /// <summary>Null when <paramref name="lan"/> is a valid name of a lan that <paramref name="isLan"/> knows, else the refusal.</summary>
    public static CommandFailed? Lan(string? lan, Func<string, bool> isLan, Func<string, bool> isNode) =>
        Names.Problem(lan, "lan") is { } problem
            ? new CommandFailed(ErrorCode.InvalidArgument, problem)
            : isLan(lan!) ? null : NoLan(lan!, isNode(lan!));

    /// <summary>Null when a node of <paramref name="nics"/> nics has nic <paramref name="nic"/>, else the refusal.</summary>
    public static CommandFailed? Nic(string node, int nics, int nic) =>
        nic < 0 || nic >= nics
            ? new CommandFailed(ErrorCode.InvalidArgument, $"node '{node}' has nics 0 to {nics - 1}; there is no nic {nic}")
            : null;
}
