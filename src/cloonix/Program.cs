using System.CommandLine;
using CloonixActors.Cli.Verbs;

namespace CloonixActors.Cli;

/// <summary>
/// cloonix [--contact ADDR:PORT] [--state-dir DIR | --secret-file FILE] [--tls-dir DIR] [--json] VERB ...
/// Exit codes: 0 done; 1 refused or failed; 2 bad usage; 3 cloonixd unreachable; 4 no reply in time;
/// exec returns the exit code of the program it ran. Each verb is one file of Verbs/; the options they
/// share are Verbs/GlobalOptions.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var parsed = BuildRootCommand().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"cloonix: {error.Message}").ConfigureAwait(false);
            }

            return 2;
        }

        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
        }
        catch (ClientException ex)
        {
            await Console.Error.WriteLineAsync($"cloonix: {ex.Message}").ConfigureAwait(false);
            return ex.ExitCode;
        }
    }

    /// <summary>The verbs in the order `cloonix --help` lists them.</summary>
    private static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("cloonix: drive a CloonixActors lab (nodes, lans, endpoints) on a cloonixd cluster");
        GlobalOptions.AddTo(root);
        Command[] verbs =
        [
            AddVerb.Create(),
            DelVerb.Create(),
            ConnectVerb.Create(),
            DisconnectVerb.Create(),
            LsVerb.Create(),
            StatusVerb.Create(),
            PurgeVerb.Create(),
            ImageVerb.Create(),
            DeployVerb.Create(),
            SaveVerb.Create(),
            DestroyVerb.Create(),
            GraphVerb.Create(),
            ExecVerb.Create(),
            SpyVerb.Create(),
            EventsVerb.Create(),
            ImpairVerb.Create(),
            DebugVerb.Create(),
            CertVerb.Create(),
            RttVerb.Create(),
        ];
        foreach (var verb in verbs)
        {
            root.Subcommands.Add(verb);
        }

        return root;
    }
}
