using CloonixActors.Domain;

namespace CloonixActors.Tests.Domain;

public sealed class NamesSpecs
{
    [Theory]
    [InlineData("a")]
    [InlineData("lan1")]
    [InlineData("a-b_c")]
    [InlineData("z9")]
    [InlineData("abcdefghijklmno")] // 15 characters
    public void A_valid_name_has_no_problem(string name)
    {
        Assert.True(Names.IsValid(name));
        Assert.Null(Names.Problem(name, "lan"));
    }

    [Theory]
    [MemberData(nameof(TopologySpecs.InvalidNames), MemberType = typeof(TopologySpecs))]
    public void An_invalid_name_has_a_problem_of_one_printable_line(string name)
    {
        var problem = Names.Problem(name, "lan");

        Assert.False(Names.IsValid(name));
        Assert.NotNull(problem);
        Assert.StartsWith("lan name", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(problem, char.IsControl);
    }

    [Fact]
    public void A_null_name_is_invalid_and_called_empty()
    {
        Assert.False(Names.IsValid(null));
        Assert.Equal("node name is empty", Names.Problem(null, "node"));
    }

    [Fact]
    public void A_name_longer_than_the_limit_is_called_too_long()
    {
        var name = new string('a', Names.MaxLength + 1);

        Assert.Contains($"longer than {Names.MaxLength}", Names.Problem(name, "lan"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a\nb\r\nc")]
    [InlineData("\u001b[31mred")]
    [InlineData("tab\there")]
    [InlineData("\0")]
    public void Printable_replaces_control_characters(string raw)
    {
        var printable = Names.Printable(raw);

        Assert.DoesNotContain(printable, char.IsControl);
        Assert.Equal(raw.Length, printable.Length);
    }

    [Fact]
    public void Printable_shortens_long_input_so_a_message_stays_one_short_line()
    {
        var raw = string.Concat(Enumerable.Repeat("x\n", 5000));

        var problem = Names.Problem(raw, "lan");

        Assert.NotNull(problem);
        Assert.DoesNotContain(problem, char.IsControl);
        Assert.True(problem.Length < 200, problem);
        Assert.EndsWith("...", Names.Printable(raw), StringComparison.Ordinal);
    }
}
