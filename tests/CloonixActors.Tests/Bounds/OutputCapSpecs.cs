using System.Text;
using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;

namespace CloonixActors.Tests.Bounds;

public sealed class OutputCapSpecs
{
    [Fact]
    public void Output_under_the_cap_is_kept_whole_and_unmarked()
    {
        var (stdout, stderr) = OutputCap.Finish("hello\n"u8, 6, "warn\n"u8, 5);

        Assert.Equal("hello\n", stdout);
        Assert.Equal("warn\n", stderr);
    }

    [Fact]
    public void Output_over_the_cap_is_marked_on_stderr_with_the_bytes_kept_and_written()
    {
        var kept = new byte[OutputCap.MaxBytes];
        Array.Fill(kept, (byte)'a');

        var (stdout, stderr) = OutputCap.Finish(kept, 20_000_000, "oops"u8, 4);

        Assert.Equal(OutputCap.MaxBytes, stdout.Length);
        Assert.Equal("oops\n[cloonix: stdout truncated after 1048576 bytes of 20000000]\n", stderr);
    }

    [Fact]
    public void Invalid_utf8_is_cut_to_the_cap_once_encoded_not_only_once_read()
    {
        // Each 0xFF decodes to U+FFFD, three bytes in the reply: 1 MiB read would be 3 MiB sent.
        var garbage = new byte[OutputCap.MaxBytes];
        Array.Fill(garbage, (byte)0xFF);

        var (stdout, stderr) = OutputCap.Finish(garbage, garbage.Length, [], 0);

        Assert.True(Encoding.UTF8.GetByteCount(stdout) <= OutputCap.MaxBytes);
        Assert.True(Encoding.UTF8.GetByteCount(stdout) > OutputCap.MaxBytes - 3);
        Assert.Contains("[cloonix: stdout truncated after", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_never_splits_a_character_and_never_exceeds_the_limit()
    {
        var text = string.Concat(Enumerable.Repeat("é😀x", 10));

        for (var limit = 0; limit < 80; limit++)
        {
            var (cut, wasCut) = OutputCap.Fit(text, limit);
            Assert.True(Encoding.UTF8.GetByteCount(cut) <= limit);
            Assert.StartsWith(cut, text, StringComparison.Ordinal);
            Assert.False(char.IsHighSurrogate(cut.LastOrDefault()));
            Assert.Equal(Encoding.UTF8.GetByteCount(text) > limit, wasCut);
        }
    }

    [Fact]
    public void A_guest_reply_at_the_agents_cap_is_marked_as_cut()
    {
        var full = Convert.ToBase64String(new byte[OutputCap.MaxBytes]);

        var result = GuestAgent.ParseResponse($"RES 3 0 {full} ", 3)!;

        Assert.Equal(OutputCap.MaxBytes, result.Stdout.Length);
        Assert.Equal("[cloonix: stdout truncated after 1048576 bytes]\n", result.Stderr);
        Assert.Equal(0, result.ExitCode);
    }

    [Fact]
    public void A_guest_reply_over_the_cap_is_cut_to_it()
    {
        var over = Convert.ToBase64String(new byte[OutputCap.MaxBytes + 5000]);

        var result = GuestAgent.ParseResponse($"RES 3 0 {over} {over}", 3)!;

        Assert.Equal(OutputCap.MaxBytes, result.Stdout.Length);
        Assert.Equal(OutputCap.MaxBytes, Encoding.UTF8.GetByteCount(result.Stderr.Split("[cloonix:")[0].TrimEnd('\n')));
        Assert.Contains("[cloonix: stderr truncated after", result.Stderr, StringComparison.Ordinal);
    }
}
