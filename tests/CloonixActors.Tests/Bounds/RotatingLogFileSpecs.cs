using CloonixActors.Host;

namespace CloonixActors.Tests.Bounds;

public sealed class RotatingLogFileSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cloonix-log-").FullName;

    private string Log => Path.Combine(_dir, "cloonixd.log");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_log_rotates_at_its_size_and_keeps_only_the_newest_files()
    {
        using (var log = new RotatingLogFile(Log, maxBytes: 100, keep: 2))
        {
            for (var i = 0; i < 50; i++)
            {
                log.WriteLine($"line {i:00} {new string('x', 20)}"); // 29 bytes: 3 lines a file
            }
        }

        Assert.Equal(["cloonixd.log", "cloonixd.log.1", "cloonixd.log.2"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(Directory.GetFiles(_dir), f => Assert.True(new FileInfo(f).Length <= 100, f));
        Assert.StartsWith("line 48", File.ReadAllText(Log), StringComparison.Ordinal);
        Assert.StartsWith("line 45", File.ReadAllText(Log + ".1"), StringComparison.Ordinal);
        Assert.StartsWith("line 42", File.ReadAllText(Log + ".2"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_restarted_daemon_appends_and_counts_what_the_file_already_holds()
    {
        File.WriteAllText(Log, new string('o', 90) + "\n");

        using (var log = new RotatingLogFile(Log, maxBytes: 100, keep: 1))
        {
            log.WriteLine("new line after restart");
        }

        Assert.Equal("new line after restart\n", File.ReadAllText(Log));
        Assert.Equal(new string('o', 90) + "\n", File.ReadAllText(Log + ".1"));
    }

    [Fact]
    public void With_keep_zero_the_full_file_is_dropped_and_a_line_longer_than_the_limit_still_goes_in()
    {
        using (var log = new RotatingLogFile(Log, maxBytes: 10, keep: 0))
        {
            log.WriteLine("first");
            log.WriteLine("a line much longer than ten bytes");
        }

        Assert.Equal(["cloonixd.log"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.Equal("a line much longer than ten bytes\n", File.ReadAllText(Log));
    }
}
