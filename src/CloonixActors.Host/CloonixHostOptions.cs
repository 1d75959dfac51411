using CloonixActors.Domain;

namespace CloonixActors.Host;

/// <summary>What a cloonixd needs to start; built from flags, environment and HOCON by the daemon.</summary>
public sealed record CloonixHostOptions
{
    public const int DefaultPort = 45300;
    public const string DefaultStateDir = "/var/lib/cloonix";
    public const string SystemName = "cloonix";

    public required string StateDir { get; init; }

    public required string HostName { get; init; }

    public string BindHost { get; init; } = "127.0.0.1";

    public int BindPort { get; init; } = DefaultPort;

    /// <summary>Seed nodes as host:port; empty means this host forms a cluster of its own.</summary>
    public IReadOnlyList<string> Seeds { get; init; } = [];

    /// <summary>This ActorSystem replaces one the cluster downed: join the other seeds, never this host alone.</summary>
    public bool Rejoin { get; init; }

    /// <summary>An extra HOCON file layered over the project's hocon/ files.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>"sqlite" (a file in the state dir, the single-host default) or "postgresql" (several hosts).</summary>
    public string Persistence { get; init; } = "sqlite";

    /// <summary>The PostgreSQL connection string (Npgsql keywords); unused with SQLite.</summary>
    public string? ConnectionString { get; init; }

    public string JournalFile => Path.Combine(StateDir, "journal.db");

    public string JournalConnectionString => Persistence == "postgresql" ? ConnectionString! : $"Data Source={JournalFile}";

    /// <summary>What `status` shows: the SQLite file, or the PostgreSQL server and database without the password.</summary>
    public string PersistenceDescription
    {
        get
        {
            if (Persistence != "postgresql")
            {
                return $"sqlite {JournalFile}";
            }

            var csb = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = ConnectionString };
            string Part(string key) => csb.TryGetValue(key, out var v) ? v?.ToString() ?? "?" : "?";
            return $"postgresql {Part("Host")}:{(csb.ContainsKey("Port") ? Part("Port") : "5432")}/{Part("Database")}";
        }
    }

    public string LogFile => Path.Combine(StateDir, "cloonixd.log");

    /// <summary>The machine's host name made into a valid node name (lower case, 15 characters).</summary>
    public static string DefaultHostName()
    {
        var raw = Environment.MachineName.ToLowerInvariant();
        var clean = new string([.. raw.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-')]);
        clean = clean.TrimStart('-', '_', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
        clean = clean.Length > Names.MaxLength ? clean[..Names.MaxLength] : clean;
        return Names.IsValid(clean) ? clean : "host";
    }

    /// <summary>Null when the options are usable, else the one line a user needs to fix them.</summary>
    public string? Problem()
    {
        if (Names.Problem(HostName, "host") is { } p)
        {
            return p;
        }

        if (Persistence is not ("sqlite" or "postgresql"))
        {
            return $"persistence '{Names.Printable(Persistence)}' is not sqlite or postgresql";
        }

        if (Persistence == "postgresql" && string.IsNullOrWhiteSpace(ConnectionString))
        {
            return "postgresql persistence needs --connection-string (or CLOONIX_DB)";
        }

        if (ConnectionString is { } cs && cs.Contains('"', StringComparison.Ordinal))
        {
            return "the connection string must not contain '\"'";
        }

        if (BindPort is < 1 or > 65535)
        {
            return $"port {BindPort} is out of range 1-65535";
        }

        return Seeds.Select(SeedProblem).FirstOrDefault(s => s is not null);
    }

    private static string? SeedProblem(string seed) =>
        Endpoint.TryParse(seed, out _) ? null : $"seed '{Names.Printable(seed)}' is not ADDR:PORT";
}

/// <summary>ADDR:PORT as the flags take it.</summary>
public readonly record struct Endpoint(string Host, int Port)
{
    public static bool TryParse(string? text, out Endpoint endpoint)
    {
        endpoint = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        var host = text[..colon];
        if (!host.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':'))
        {
            return false;
        }

        endpoint = new Endpoint(host, port);
        return true;
    }

    public override string ToString() => $"{Host}:{Port}";
}
