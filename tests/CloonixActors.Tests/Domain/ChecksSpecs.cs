using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Domain;

public sealed class ChecksSpecs
{
    private static readonly HashSet<string> Nodes = ["n1"];
    private static readonly HashSet<string> Lans = ["l1"];

    [Fact]
    public void A_node_check_says_whether_the_name_is_bad_a_lan_or_nothing_at_all()
    {
        Assert.Null(Checks.Node("n1", Nodes.Contains, Lans.Contains));
        Assert.Equal(new CommandFailed(ErrorCode.NotFound, "'l1' is a lan, not a node"), Checks.Node("l1", Nodes.Contains, Lans.Contains));
        Assert.Equal(new CommandFailed(ErrorCode.NotFound, "no node named 'n2'"), Checks.Node("n2", Nodes.Contains, Lans.Contains));
        Assert.Equal(new CommandFailed(ErrorCode.InvalidArgument, "node name is empty"), Checks.Node(string.Empty, Nodes.Contains, Lans.Contains));
    }

    [Fact]
    public void A_lan_check_says_whether_the_name_is_bad_a_node_or_nothing_at_all()
    {
        Assert.Null(Checks.Lan("l1", Lans.Contains, Nodes.Contains));
        Assert.Equal(new CommandFailed(ErrorCode.NotFound, "'n1' is a node, not a lan"), Checks.Lan("n1", Lans.Contains, Nodes.Contains));
        Assert.Equal(new CommandFailed(ErrorCode.NotFound, "no lan named 'l2'"), Checks.Lan("l2", Lans.Contains, Nodes.Contains));
        Assert.Equal(ErrorCode.InvalidArgument, Checks.Lan("L 2", Lans.Contains, Nodes.Contains)?.Code);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    public void A_nic_outside_the_nodes_range_is_refused(int nic)
    {
        Assert.Equal(new CommandFailed(ErrorCode.InvalidArgument, $"node 'n1' has nics 0 to 1; there is no nic {nic}"), Checks.Nic("n1", 2, nic));
        Assert.Null(Checks.Nic("n1", 2, 1));
    }
}
