using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// The journal failing under a running lab (its own PostgreSQL server, stopped and started) and at start
/// (a corrupt SQLite file, an unreachable server, a host name already held on the database).
/// </summary>
[Collection("dataplane")]
public sealed class JournalFailureTests(ITestOutputHelper output)
{
    [Fact]
    public void PostgreSQL_down_refuses_changes_keeps_the_lab_running_and_its_return_is_picked_up()
    {
        using var pg = new PrivatePostgres();
        using var lab = new Lab(hocon: "cloonix.command-timeout = 20s", daemonArgs: ["--persistence", "postgresql", "--connection-string", pg.ConnectionString]).Start();
        lab.TwoContainersOnLan();
        lab.WaitForPing("c1", "198.18.0.2");

        pg.Stop();
        using (var status = lab.Json("status"))
        {
            // Read by status itself: the outage shows before any change is refused.
            Assert.StartsWith("failing since ", status.RootElement.GetProperty("journal").GetString(), StringComparison.Ordinal);
            Assert.StartsWith("failing since ", status.RootElement.GetProperty("coordinatorJournal").GetString(), StringComparison.Ordinal);
        }

        var clock = Stopwatch.StartNew();
        var refused = lab.Cli("add", "lan", "x");
        var refusedIn = clock.Elapsed;
        output.WriteLine($"add lan x with PostgreSQL down: {refused} in {refusedIn.TotalSeconds:0.0} s");
        Assert.NotEqual(0, refused.ExitCode);
        var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("cloonix: journal unavailable: ", line, StringComparison.Ordinal);
        Assert.EndsWith("; nothing changed", line, StringComparison.Ordinal);
        Assert.True(refusedIn < TimeSpan.FromSeconds(20), $"the refusal took {refusedIn}");

        // Refused again while down, at once; the data plane is untouched.
        Assert.Contains("journal unavailable", lab.Cli("add", "cnt", "c3").Stderr, StringComparison.Ordinal);
        Assert.True(lab.Ping("c1", "198.18.0.2"), "c1 no longer reaches c2 with the journal down");
        using (var status = lab.Json("status"))
        {
            var journal = status.RootElement.GetProperty("coordinatorJournal").GetString()!;
            output.WriteLine($"coordinator journal while down: {journal}");
            Assert.StartsWith("failing since ", journal, StringComparison.Ordinal);
        }

        Assert.Contains("its journal  failing since", lab.Ok("status"), StringComparison.Ordinal);
        using (var ls = lab.Json("ls"))
        {
            Assert.DoesNotContain(ls.RootElement.GetProperty("lans").EnumerateArray(), l => l.GetProperty("name").GetString() == "x");
            Assert.Equal(2, ls.RootElement.GetProperty("nodes").GetArrayLength());
        }

        // A longer outage (the probes back off to their longest interval): the lab keeps working all along.
        var outage = Stopwatch.StartNew();
        while (outage.Elapsed < TimeSpan.FromSeconds(25))
        {
            Assert.True(lab.Ping("c1", "198.18.0.2"), $"c1 lost c2 {outage.Elapsed.TotalSeconds:0} s into the outage");
        }

        pg.Start();
        clock.Restart();
        Lab.WaitUntil(() => lab.Cli("add", "lan", "x").ExitCode == 0, TimeSpan.FromSeconds(30), "add lan x to work once PostgreSQL is back");
        output.WriteLine($"PostgreSQL's return picked up in {clock.Elapsed.TotalSeconds:0.0} s (add lan x succeeded)");
        using (var status = lab.Json("status"))
        {
            Assert.StartsWith("ok", status.RootElement.GetProperty("coordinatorJournal").GetString(), StringComparison.Ordinal);
            Assert.StartsWith("ok", status.RootElement.GetProperty("journal").GetString(), StringComparison.Ordinal);
        }

        lab.Ok("add", "cnt", "c3", "--nics", "1");
        lab.Ok("connect", "c3", "0", "x");
        Assert.True(lab.Ping("c1", "198.18.0.2"), "c1 no longer reaches c2 after the outage");

        // What was accepted after the outage is in the journal: it comes back after kill -9.
        var before = lab.Ok("ls", "--json");
        lab.KillDaemon();
        lab.Start();
        Assert.Equal(before, lab.Ok("ls", "--json"));
    }

    [Fact]
    public void A_full_disk_under_the_sqlite_journal_refuses_changes_and_keeps_the_lab_running()
    {
        // The state dir on a small tmpfs of its own, filled up once the lab runs: SQLite's writes fail as on a full disk.
        var lab = new Lab();
        var filler = Path.Combine(lab.StateDir, "filler");
        Assert.Equal(0, Lab.Run("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", lab.StateDir]).ExitCode);
        try
        {
            lab.Start();
            lab.TwoContainersOnLan();
            lab.WaitForPing("c1", "198.18.0.2");

            Lab.Run("dd", ["if=/dev/zero", $"of={filler}", "bs=1M", "count=64"]); // fails at the end: the disk is full
            var refused = lab.Cli("add", "lan", "x");
            output.WriteLine($"add lan x on a full disk: {refused}");
            Assert.NotEqual(0, refused.ExitCode);
            var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("cloonix: journal unavailable: ", line, StringComparison.Ordinal);
            Assert.EndsWith("; nothing changed", line, StringComparison.Ordinal);
            Assert.True(lab.Ping("c1", "198.18.0.2"), "c1 no longer reaches c2 with the disk full");
            using (var status = lab.Json("status"))
            {
                Assert.StartsWith("failing since ", status.RootElement.GetProperty("coordinatorJournal").GetString(), StringComparison.Ordinal);
            }

            File.Delete(filler);
            var clock = Stopwatch.StartNew();
            Lab.WaitUntil(() => lab.Cli("add", "lan", "x").ExitCode == 0, TimeSpan.FromSeconds(30), "add lan x to work once the disk has room");
            output.WriteLine($"room on the disk picked up in {clock.Elapsed.TotalSeconds:0.0} s");
            using var ls = lab.Json("ls");
            Assert.Contains(ls.RootElement.GetProperty("lans").EnumerateArray(), l => l.GetProperty("name").GetString() == "x");
        }
        finally
        {
            lab.StopDaemon(TimeSpan.FromSeconds(30));
            Lab.Run("umount", ["-l", lab.StateDir]);
            lab.Dispose();
        }
    }

    [Fact]
    public void A_second_daemon_with_the_same_name_on_one_database_is_refused_and_a_restart_is_not()
    {
        using var pg = new PrivatePostgres();
        string[] db = ["--persistence", "postgresql", "--connection-string", pg.ConnectionString];
        using var lab = new Lab(daemonArgs: db).Start();
        var other = Path.Combine(Path.GetTempPath(), "cloonix-it", lab.Host + "-twin");
        try
        {
            var r = Lab.Run(Lab.DaemonPath, ["--state-dir", other, "--name", lab.Host, "--bind", "127.0.0.1:" + FreePort(), .. db]);
            output.WriteLine(r.ToString());
            Assert.Equal(1, r.ExitCode);
            var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"cloonixd: host name '{lab.Host}' is in use on this journal database by another cloonixd (machine ", line, StringComparison.Ordinal);
            Assert.Contains($"state dir {lab.StateDir}", line, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }

        // The same host after a crash (same state dir) starts at once: its hold is its own.
        lab.Ok("add", "lan", "lan1");
        lab.KillDaemon();
        lab.Start();
        Assert.Contains("lan1", lab.Ok("ls"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_sqlite_journal_is_one_line_and_exit_1()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cloonix-it", "corrupt" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var junk = new byte[64 * 1024];
            new Random(9).NextBytes(junk);
            File.WriteAllBytes(Path.Combine(dir, "journal.db"), junk);

            var r = Lab.Run(Lab.DaemonPath, ["--state-dir", dir, "--name", "corrupt", "--bind", "127.0.0.1:" + FreePort()]);

            output.WriteLine(r.ToString());
            Assert.Equal(1, r.ExitCode);
            var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal($"cloonixd: the journal {dir}/journal.db is not a usable SQLite database (SQLite Error 26: 'file is not a database'): move it away to start with an empty lab, or put back a copy", line);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void An_unreachable_database_at_start_is_one_line_and_exit_1()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cloonix-it", "nodb" + Guid.NewGuid().ToString("N")[..8]);
        var port = FreePort(); // nothing listens there
        try
        {
            var r = Lab.Run(Lab.DaemonPath, ["--state-dir", dir, "--name", "nodb", "--bind", "127.0.0.1:" + FreePort(), "--persistence", "postgresql", "--connection-string", $"Host=127.0.0.1;Port={port};Database=cloonix;Username=cloonix;Password=secret"]);

            output.WriteLine(r.ToString());
            Assert.Equal(1, r.ExitCode);
            var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal($"cloonixd: cannot reach the journal database postgresql 127.0.0.1:{port}/cloonix: Failed to connect to 127.0.0.1:{port} (Connection refused)", line);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}
