using System.Diagnostics;
using CloonixActors.DataPlane;

namespace CloonixActors.Tests.Bounds;

/// <summary>The runner against real programs (sh, head, sleep): caps and timeouts hold whatever they do.</summary>
public sealed class ProcessRunnerSpecs
{
    [Fact]
    public async Task Output_beyond_the_cap_is_cut_marked_and_the_exit_code_kept()
    {
        var r = await ProcessRunner.ExecAsync("sh", ["-c", "head -c 20000000 /dev/zero; exit 3"], TimeSpan.FromSeconds(30));

        Assert.Equal(3, r.ExitCode);
        Assert.False(r.TimedOut);
        Assert.Equal(OutputCap.MaxBytes, r.Stdout.Length);
        Assert.Equal("[cloonix: stdout truncated after 1048576 bytes of 20000000]\n", r.Stderr);
    }

    [Fact]
    public async Task A_background_child_holding_the_pipes_does_not_hold_the_answer()
    {
        var clock = Stopwatch.StartNew();

        var r = await ProcessRunner.ExecAsync("sh", ["-c", "echo started; sleep 60 &"], TimeSpan.FromSeconds(60));

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("started\n", r.Stdout);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task At_the_timeout_the_whole_process_group_is_killed_and_the_exit_code_is_124()
    {
        // A marker in the children's command lines, to find them afterwards.
        var marker = $"61.{Environment.ProcessId}{Random.Shared.Next(1000, 9999)}";
        var clock = Stopwatch.StartNew();

        var r = await ProcessRunner.ExecAsync("sh", ["-c", $"echo before; sleep {marker} & sleep {marker}"], TimeSpan.FromSeconds(2));

        Assert.True(r.TimedOut);
        Assert.Equal("before\n", r.Stdout);
        Assert.Equal(ProcessRunner.TimedOutExitCode, r.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2), $"returned before its timeout: {clock.Elapsed}");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Survivors(marker).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Empty(Survivors(marker));
    }

    [Fact]
    public async Task At_the_timeout_a_child_that_left_the_group_is_killed_too()
    {
        var marker = $"62.{Environment.ProcessId}{Random.Shared.Next(1000, 9999)}";
        var clock = Stopwatch.StartNew();

        var r = await ProcessRunner.ExecAsync("sh", ["-c", $"setsid sleep {marker} & sleep 0.2; setsid sleep {marker} & sleep {marker}"], TimeSpan.FromSeconds(2));

        Assert.True(r.TimedOut);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Survivors(marker).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Empty(Survivors(marker));
    }

    [Fact]
    public async Task Internal_runs_still_read_stdin_and_all_their_output()
    {
        var r = await ProcessRunner.RunAsync("sh", ["-c", "cat; echo err >&2"], TimeSpan.FromSeconds(10), stdin: "line1\nline2\n");

        Assert.True(r.Ok);
        Assert.Equal("line1\nline2\n", r.Stdout);
        Assert.Equal("err\n", r.Stderr);
    }

    private static List<int> Survivors(string marker) =>
        [.. Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && CommandLine(pid).Contains(marker, StringComparison.Ordinal))];

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return string.Empty;
        }
        catch (UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }
}
