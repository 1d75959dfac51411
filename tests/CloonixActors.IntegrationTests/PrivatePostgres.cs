using System.Net;
using System.Net.Sockets;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// A PostgreSQL server of one test's own (initdb into a temp dir, run as the postgres user, on a free
/// loopback port), so the test can stop and start it without touching the shared server other tests use.
/// Disposing stops it and removes its files, whatever the test did.
/// </summary>
public sealed class PrivatePostgres : IDisposable
{
    private readonly string _bin;

    public PrivatePostgres()
    {
        _bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).OrderDescending(StringComparer.Ordinal).First(d => File.Exists(Path.Combine(d, "initdb")));
        Dir = Path.Combine(Path.GetTempPath(), "cloonix-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Port = FreePort();
        Directory.CreateDirectory(Dir);
        Ok(Lab.Run("chown", ["postgres:postgres", Dir]), "chown");
        try
        {
            Ok(AsPostgres("initdb", "-D", DataDir, "-U", "cloonix", "-A", "trust", "--no-sync"), "initdb");
            File.AppendAllText(Path.Combine(DataDir, "postgresql.auto.conf"), $"port = {Port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{Dir}'\nfsync = off\n");
            Start();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Dir { get; }

    public int Port { get; }

    private string DataDir => Path.Combine(Dir, "data");

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Database=postgres;Username=cloonix";

    public void Start() => Ok(AsPostgres("pg_ctl", "-D", DataDir, "-l", Path.Combine(Dir, "server.log"), "-w", "start"), "pg_ctl start");

    /// <summary>A fast shutdown: open connections are cut, as when a server goes down under its clients.</summary>
    public void Stop() => Ok(AsPostgres("pg_ctl", "-D", DataDir, "-m", "fast", "-w", "stop"), "pg_ctl stop");

    public void Dispose()
    {
        if (File.Exists(Path.Combine(DataDir, "postmaster.pid")))
        {
            AsPostgres("pg_ctl", "-D", DataDir, "-m", "immediate", "-w", "stop");
        }

        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private CliResult AsPostgres(string program, params string[] args) =>
        Lab.Run("runuser", ["-u", "postgres", "--", Path.Combine(_bin, program), .. args]);

    private static void Ok(CliResult r, string what) =>
        Assert.True(r.ExitCode == 0, $"{what}: {r}");

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
