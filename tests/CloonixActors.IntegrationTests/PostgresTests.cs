namespace CloonixActors.IntegrationTests;

/// <summary>The journal on a real PostgreSQL server (the multi-host persistence), set up by `./run setup`.</summary>
[Collection("dataplane")]
public sealed class PostgresTests : IDisposable
{
    private const string Server = "postgresql://cloonix:cloonix@127.0.0.1:5432/cloonix";
    private const string ConnectionString = "Host=127.0.0.1;Port=5432;Database=cloonix;Username=cloonix;Password=cloonix";
    private readonly Lab _lab = new Lab(daemonArgs: ["--persistence", "postgresql", "--connection-string", ConnectionString]).Start();

    public void Dispose()
    {
        _lab.Dispose();
        // This test's rows only: other labs may share the database.
        Psql($"DELETE FROM journal WHERE persistence_id = 'host-{_lab.Host}'; DELETE FROM snapshot WHERE persistence_id = 'host-{_lab.Host}';");
    }

    private static string Psql(string sql)
    {
        var r = Lab.Run("psql", [Server, "-tAc", sql]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    [Fact]
    public void The_topology_is_journaled_in_postgresql_and_comes_back_after_kill_9()
    {
        using (var status = _lab.Json("status"))
        {
            Assert.Equal("postgresql 127.0.0.1:5432/cloonix", status.RootElement.GetProperty("persistence").GetString());
        }

        _lab.TwoContainersOnLan();
        Assert.Equal("5", Psql($"SELECT COUNT(*) FROM journal WHERE persistence_id = 'host-{_lab.Host}'"));
        var before = _lab.Ok("ls", "--json");

        _lab.KillDaemon();
        _lab.Start();

        Assert.Equal(before, _lab.Ok("ls", "--json"));
        _lab.WaitForPing("c1", "198.18.0.2");
    }

    [Fact]
    public void Postgresql_without_a_connection_string_is_refused_at_start()
    {
        var r = Lab.Run(Lab.DaemonPath, ["--state-dir", Path.Combine(_lab.StateDir, "other"), "--persistence", "postgresql", "--connection-string", ""]);

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("needs --connection-string", r.Stderr, StringComparison.Ordinal);
    }
}
