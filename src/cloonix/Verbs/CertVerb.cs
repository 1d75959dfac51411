using System.CommandLine;
using System.Text.Json;
using CloonixActors.Domain;
using CloonixActors.Host;
using CloonixActors.Host.Security;

namespace CloonixActors.Cli.Verbs;

/// <summary>
/// cloonix cert init | cloonix cert issue NAME [--out DIR] [--client] [--days N]: the cluster's certificate
/// authority and the certificates it signs, made on this machine (no daemon needed). Exit 0 done, 1 failed
/// (a file already there, unreadable), 2 bad usage (a bad name).
/// </summary>
internal static class CertVerb
{
    public static Command Create()
    {
        var initName = new Option<string>("--name")
        {
            Description = "the host name in the host and client certificates (default: the machine's host name, as cloonixd's --name)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_HOST_NAME") ?? CloonixHostOptions.DefaultHostName(),
        };
        var init = new Command("init", "make the cluster's certificate authority, a host and a client certificate in the tls dir (STATE_DIR/tls)") { initName };
        init.SetAction(r => Report(GlobalOptions.JsonOf(r), () =>
        {
            var dir = GlobalOptions.TlsDirOf(r);
            ClusterCertificates.Init(dir, r.GetValue(initName)!);
            return [.. new[] { ClusterCertificates.CaCertFile, ClusterCertificates.CaKeyFile, "host.crt", "host.key", "client.crt", "client.key" }.Select(f => Path.Combine(dir, f))];
        }));

        var name = new Argument<string>("NAME") { Description = "a host's --name or a user's name: [a-z][a-z0-9_-], 15 characters at most" };
        var outDir = new Option<string?>("--out") { Description = "where to write the certificates (default: TLS_DIR/issued/NAME); copy it to the host's STATE_DIR/tls, or give it to the user as --tls-dir" };
        var clientOnly = new Option<bool>("--client") { Description = "a user's certificate only (client.crt/key), no host certificate" };
        var days = new Option<int>("--days") { Description = "validity in days", DefaultValueFactory = _ => (int)ClusterCertificates.DefaultValidity.TotalDays };
        var issue = new Command("issue", "make a certificate for another host or a user, signed by the authority in the tls dir") { name, outDir, clientOnly, days };
        issue.SetAction(r => Report(GlobalOptions.JsonOf(r), () =>
        {
            var who = r.GetValue(name)!;
            if (Names.Problem(who, "certificate") is { } problem)
            {
                throw new ClientException(problem, 2);
            }

            if (r.GetValue(days) is < 1 or > 3650)
            {
                throw new ClientException($"--days {r.GetValue(days)} is out of range 1-3650", 2);
            }

            var dir = GlobalOptions.TlsDirOf(r);
            var target = r.GetValue(outDir) ?? Path.Combine(dir, "issued", who);
            return ClusterCertificates.IssueInto(dir, who, target, r.GetValue(clientOnly), TimeSpan.FromDays(r.GetValue(days)));
        }));

        return new Command("cert", "the cluster's TLS certificates (made locally, no daemon needed)") { init, issue };
    }

    private static int Report(bool json, Func<IReadOnlyList<string>> make)
    {
        IReadOnlyList<string> files;
        try
        {
            files = make();
        }
        catch (ArgumentException ex)
        {
            throw new ClientException(ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal), 2);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new ClientException(ex.Message, 1);
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { ok = true, files }));
        }
        else
        {
            foreach (var file in files)
            {
                Console.WriteLine(file);
            }
        }

        return 0;
    }
}
