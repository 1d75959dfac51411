using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

internal static class TopologyAssert
{
    /// <summary>Decides and applies a command that must be accepted; returns the new state.</summary>
    public static Topology Run(this Topology state, ITopologyCommand command)
    {
        var decision = state.Decide(command);
        Assert.True(decision.Accepted, $"{command} was refused: {decision.Rejection?.Message}");
        return state.ApplyAll(decision.Events);
    }

    public static Topology RunAll(this Topology state, params ITopologyCommand[] commands) =>
        commands.Aggregate(state, (s, c) => s.Run(c));

    /// <summary>A refusal carries one reason and no events, so nothing would be persisted.</summary>
    public static CommandFailed Rejected(Decision decision, ErrorCode code)
    {
        Assert.False(decision.Accepted, "the command was accepted");
        Assert.Empty(decision.Events);
        var rejection = Assert.IsType<CommandFailed>(decision.Rejection);
        Assert.Equal(code, rejection.Code);
        Assert.DoesNotContain('\n', rejection.Message);
        return rejection;
    }

    /// <summary>Same lans, nodes, endpoints and next id (the dictionaries themselves compare by reference).</summary>
    public static void SameTopology(Topology expected, Topology actual)
    {
        Assert.Equal(expected.NextId, actual.NextId);
        Assert.Equal(expected.Lans.ToList(), actual.Lans.ToList());
        Assert.Equal(expected.Nodes.ToList(), actual.Nodes.ToList());
        Assert.Equal(expected.Endpoints.ToList(), actual.Endpoints.ToList());
    }
}
