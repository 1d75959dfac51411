using System.CommandLine;

namespace CloonixActors.Cli.Verbs;

/// <summary>
/// The options every verb takes, declared once on the root command (recursive, so they may come after the
/// verb), and what a verb reads from them: where the cluster is, the secret, the TLS dir, --json, --timeout.
/// </summary>
internal static class GlobalOptions
{
    private const string DefaultStateDir = "/var/lib/cloonix";

    private static readonly Option<string> Contact = new("--contact")
    {
        Description = "ADDR:PORT of any cloonixd (env CLOONIX_CONTACT)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_CONTACT") ?? "127.0.0.1:45300",
    };

    private static readonly Option<string> StateDir = new("--state-dir")
    {
        Description = "read the secret from DIR/secret (env CLOONIX_STATE_DIR)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_STATE_DIR") ?? DefaultStateDir,
    };

    private static readonly Option<string?> SecretFile = new("--secret-file")
    {
        Description = "the cluster's secret file",
        Recursive = true,
    };

    private static readonly Option<string?> TlsDir = new("--tls-dir")
    {
        Description = "where this client's certificate (client.crt, client.key) and the cluster's authority (ca.crt) are (env CLOONIX_TLS_DIR; default STATE_DIR/tls)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_TLS_DIR"),
    };

    private static readonly Option<bool> Json = new("--json") { Description = "print JSON for scripts", Recursive = true };

    private static readonly Option<int> Timeout = new("--timeout")
    {
        Description = "seconds to wait for the reply",
        Recursive = true,
        DefaultValueFactory = _ => 120,
    };

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(Contact);
        root.Options.Add(StateDir);
        root.Options.Add(SecretFile);
        root.Options.Add(TlsDir);
        root.Options.Add(Json);
        root.Options.Add(Timeout);
    }

    public static bool JsonOf(ParseResult r) => r.GetValue(Json);

    public static TimeSpan TimeoutOf(ParseResult r) => TimeSpan.FromSeconds(Math.Max(1, r.GetValue(Timeout)));

    /// <summary>--timeout when given, else <paramref name="whenNotGiven"/>: for a verb whose reply takes longer than most.</summary>
    public static TimeSpan TimeoutOf(ParseResult r, TimeSpan whenNotGiven) => r.GetResult(Timeout) is null ? whenNotGiven : TimeoutOf(r);

    public static string TlsDirOf(ParseResult r) => r.GetValue(TlsDir) ?? Path.Combine(r.GetValue(StateDir)!, "tls");

    /// <summary>A connection to the cluster at --contact, with the secret and the TLS dir the options name.</summary>
    public static Task<ClusterConnection> OpenConnectionAsync(ParseResult r)
    {
        var secret = ReadSecret(r.GetValue(SecretFile), r.GetValue(StateDir)!);
        return ClusterConnection.OpenAsync(r.GetValue(Contact)!, secret, TlsDirOf(r));
    }

    private static string ReadSecret(string? secretFile, string stateDir)
    {
        var path = secretFile ?? Path.Combine(stateDir, "secret");
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ClientException($"cannot read the secret file {path}: {ex.Message} (use --state-dir or --secret-file)", 2);
        }
    }
}
