using System.CommandLine;
using System.Text.Json;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>
/// cloonix deploy FILE [--host H] [--dry-run]: makes the running lab hold what the file describes. What the
/// lab already holds is kept; what it lacks is added in one request, all of it or nothing; a name the lab
/// holds as something else is refused before anything changes. Deploying the same file twice changes nothing.
/// </summary>
internal static class DeployVerb
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "a topology file (YAML, see the README), or - for standard input" };
        var host = new Option<string?>("--host") { Description = "the host to put the file's nodes on when they name none (default: the least loaded host)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "print the changes the deploy would make, make none" };
        var deploy = new Command("deploy", "make the lab hold a topology file: adds what is missing (all of it, or nothing), refuses a conflict") { file, host, dryRun };
        deploy.SetAction((r, _) =>
        {
            var path = r.GetValue(file)!;
            var lab = TopologyFile.Load(path);
            return VerbActions.WithConnectionAsync(r, c => RunAsync(c, lab, path, r.GetValue(host), r.GetValue(dryRun), GlobalOptions.JsonOf(r), GlobalOptions.TimeoutOf(r)));
        });
        return deploy;
    }

    private static async Task<int> RunAsync(ClusterConnection connection, LabFile lab, string path, string? host, bool dryRun, bool json, TimeSpan timeout)
    {
        var current = LabClient.Current(await LabClient.ListAsync(connection, timeout).ConfigureAwait(false), lab, path);
        var diff = LabDiff.Compute(lab, current);
        if (diff.Conflict is { } conflict)
        {
            throw new ClientException($"{path}: {conflict}; nothing was changed", 1);
        }

        if (dryRun)
        {
            Console.WriteLine(json
                ? JsonSerializer.Serialize(new { changes = diff.Changes.Select(c => c.ToString()) })
                : diff.IsEmpty ? "nothing to change" : string.Join('\n', diff.Changes));
            return 0;
        }

        if (diff.IsEmpty)
        {
            return Output.Print(new CommandSucceeded($"nothing to change: the lab already holds {path}"), json);
        }

        var (deploy, then) = diff.ToRequests(host);
        IClientReply reply = new CommandSucceeded(string.Empty);
        if (deploy is not null)
        {
            reply = await connection.AskAsync(deploy, timeout).ConfigureAwait(false);
            if (reply is not CommandSucceeded)
            {
                return Output.Print(reply, json);
            }
        }

        // Impairments of nodes the lab already held: each an ordinary impair request, after the deploy.
        foreach (var impair in then)
        {
            var impaired = await connection.AskAsync(impair, timeout).ConfigureAwait(false);
            if (impaired is not CommandSucceeded)
            {
                return Output.Print(impaired, json);
            }
        }

        var message = string.Join("; ", new[] { ((CommandSucceeded)reply).Message, then.Count > 0 ? $"{then.Count} impairment(s) set" : string.Empty }.Where(m => m.Length > 0));
        return Output.Print(new CommandSucceeded(message), json);
    }
}
