using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Agent;

/// <summary>The host's checks of an <c>exec</c> before it goes to the node's actor, which runs it.</summary>
public static class ExecRequests
{
    /// <summary>Null when the request is well formed (a node name, a program without NULs, a sane timeout); else the client's answer.</summary>
    public static CommandFailed? Refusal(ExecInNode cmd)
    {
        if (Checks.NodeName(cmd.Node) is { } problem)
        {
            return problem;
        }

        if (cmd.Argv is null || cmd.Argv.Length == 0 || cmd.Argv.Any(a => a is null || a.Contains('\0', StringComparison.Ordinal)) || string.IsNullOrEmpty(cmd.Argv[0]))
        {
            return new CommandFailed(ErrorCode.InvalidArgument, "exec needs a program and its arguments, without NUL characters");
        }

        if (cmd.TimeoutSeconds is < 1 or > 3600)
        {
            return new CommandFailed(ErrorCode.InvalidArgument, $"exec timeout is 1 to 3600 seconds, not {cmd.TimeoutSeconds}");
        }

        return null;
    }

    /// <summary>The answer when no node of that name runs on this host.</summary>
    public static CommandFailed NoSuchNode(string node, Topology state) => Checks.NoNode(node, state.Lans.ContainsKey(node));
}
