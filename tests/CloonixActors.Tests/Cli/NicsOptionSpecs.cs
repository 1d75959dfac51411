using CloonixActors.Cli;
using CloonixActors.Cli.Verbs;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Tests.Cli;

/// <summary>`add --nics`: letters parsed once in the client into the kinds the command carries; a usage error otherwise.</summary>
public sealed class NicsOptionSpecs
{
    [Theory]
    [InlineData("1", new[] { NicKind.Veth })]
    [InlineData("3", new[] { NicKind.Veth, NicKind.Veth, NicKind.Veth })]
    [InlineData("v,s", new[] { NicKind.Veth, NicKind.Spyable })]
    [InlineData(" s , v", new[] { NicKind.Spyable, NicKind.Veth })]
    public void A_containers_count_or_letters_become_its_nic_kinds(string nics, NicKind[] expected) =>
        Assert.Equal(expected, NicsOption.OfContainer(nics));

    [Fact]
    public void A_vms_letters_become_its_nic_kinds() =>
        Assert.Equal([NicKind.VhostUser, NicKind.Tap, NicKind.Spyable], NicsOption.OfVm("d, v,s"));

    [Theory]
    [InlineData("0", "a container has 1 to 32 nics, not 0")]
    [InlineData("33", "a container has 1 to 32 nics, not 33")]
    [InlineData("-1", "a container has 1 to 32 nics, not -1")]
    [InlineData("2147483647", "a container has 1 to 32 nics, not 2147483647")]
    [InlineData("v,d", "--nics 'v,d' is neither a number of nics nor a list of v (veth) and s (spyable), e.g. v,s")]
    [InlineData("v,,s", "is neither a number of nics nor a list")]
    [InlineData("two", "is neither a number of nics nor a list")]
    public void A_container_nic_list_the_daemon_would_refuse_is_a_usage_error(string nics, string expected)
    {
        var e = Assert.Throws<ClientException>(() => NicsOption.OfContainer(nics));

        Assert.Equal(2, e.ExitCode);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_container_letters_are_refused_in_the_daemons_words() =>
        Assert.Equal(
            Topology.NicCountProblem(NodeKind.Container, 33),
            Assert.Throws<ClientException>(() => NicsOption.OfContainer(string.Join(',', Enumerable.Repeat("s", 33)))).Message);

    [Theory]
    [InlineData("x")]
    [InlineData("")]
    [InlineData("d,,v")]
    [InlineData("dv")]
    [InlineData("2")]
    public void Vm_letters_other_than_d_v_and_s_are_a_usage_error(string nics)
    {
        var e = Assert.Throws<ClientException>(() => NicsOption.OfVm(nics));

        Assert.Equal(2, e.ExitCode);
        Assert.Equal($"--nics '{nics}' must list 1 to 32 nic types, each d, v or s (e.g. d,v,v)", e.Message);
    }

    [Fact]
    public void More_than_32_vm_nics_are_a_usage_error() =>
        Assert.Contains("1 to 32", Assert.Throws<ClientException>(() => NicsOption.OfVm(string.Join(',', Enumerable.Repeat("v", 33)))).Message, StringComparison.Ordinal);
}
