using System.Diagnostics;
using Xunit.Abstractions;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// exec against hostile programs in a real container: its output is capped with a mark, and it returns by
/// its timeout (or promptly after the program's exit) whatever the program leaves behind.
/// </summary>
[Collection("dataplane")]
public sealed class ExecBoundsTests(ExecBoundsTests.OneContainerLab fixture, ITestOutputHelper output) : IClassFixture<ExecBoundsTests.OneContainerLab>
{
    private readonly Lab _lab = fixture.Lab;

    public sealed class OneContainerLab : IDisposable
    {
        public OneContainerLab()
        {
            Lab = new Lab().Start();
            Lab.Ok("add", "cnt", "c1");
        }

        public Lab Lab { get; }

        public void Dispose() => Lab.Dispose();
    }

    [Fact]
    public void Huge_output_is_cut_at_one_mebibyte_with_a_mark_and_the_exit_code_kept()
    {
        var r = _lab.Exec("c1", "sh", "-c", "head -c 20000000 /dev/zero; exit 7");

        Assert.Equal(7, r.ExitCode);
        Assert.Equal(1 << 20, r.Stdout.Length);
        Assert.Equal("[cloonix: stdout truncated after 1048576 bytes of 20000000]\n", r.Stderr);
    }

    [Fact]
    public void A_background_child_holding_the_pipe_does_not_hold_exec()
    {
        var marker = Marker();
        var baseline = Stopwatch.StartNew();
        Assert.Equal(0, _lab.Exec("c1", "true").ExitCode);
        baseline.Stop();
        var clock = Stopwatch.StartNew();

        var r = _lab.Exec("c1", "sh", "-c", $"echo started; sleep {marker} &");

        clock.Stop();
        output.WriteLine($"exec sh -c 'sleep 60 &' returned after {clock.Elapsed.TotalSeconds:0.00} s (exec true: {baseline.Elapsed.TotalSeconds:0.00} s)");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("started\n", r.Stdout);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        KillAll(marker); // the child was left running on purpose (a program may start a daemon)
    }

    [Fact]
    public void A_program_that_never_ends_is_killed_at_its_timeout_with_its_children_and_exit_code_124()
    {
        var marker = Marker();
        var clock = Stopwatch.StartNew();

        var r = _lab.Cli("exec", "c1", "--exec-timeout", "2", "--", "sh", "-c", $"sleep {marker} & sleep {marker}");

        clock.Stop();
        output.WriteLine($"exec --exec-timeout 2 of a program that never ends returned after {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.Equal(124, r.ExitCode);
        Assert.Contains("killed after its timeout", r.Stderr, StringComparison.Ordinal);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2), $"returned before the timeout: {clock.Elapsed}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Lab.WaitUntil(() => Survivors(marker).Count == 0, TimeSpan.FromSeconds(10), "the program's process group to be gone");
        Assert.Equal(0, _lab.Exec("c1", "true").ExitCode);
    }

    /// <summary>A sleep duration nobody else uses (sleep accepts fractions), to find the processes afterwards.</summary>
    private static string Marker() => $"600.{Environment.ProcessId}{Random.Shared.Next(1000, 9999)}";

    private static List<int> Survivors(string marker) =>
        [.. Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && CommandLine(pid).Contains(marker, StringComparison.Ordinal))];

    private static void KillAll(string marker)
    {
        foreach (var pid in Survivors(marker))
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

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
