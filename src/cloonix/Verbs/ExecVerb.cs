using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix exec NODE -- CMD ARGS...: exits with the program's exit code (124 when it was killed after its timeout).</summary>
internal static class ExecVerb
{
    public static Command Create()
    {
        var node = new Argument<string>("NODE");
        var argv = new Argument<string[]>("COMMAND") { Description = "program and arguments, after --", Arity = ArgumentArity.OneOrMore };
        var execTimeout = new Option<int>("--exec-timeout") { Description = "seconds before the program is killed", DefaultValueFactory = _ => 60 };
        var exec = new Command("exec", "run a program inside a node: cloonix exec NODE -- CMD ARGS...") { node, argv, execTimeout };
        exec.SetAction((r, _) =>
        {
            var command = new ExecInNode(r.GetValue(node)!, r.GetValue(argv)!, r.GetValue(execTimeout));

            // The reply comes once the program ends or is killed: wait past its own timeout.
            var timeout = GlobalOptions.TimeoutOf(r);
            if (timeout <= TimeSpan.FromSeconds(command.TimeoutSeconds))
            {
                timeout = TimeSpan.FromSeconds(command.TimeoutSeconds + 10);
            }

            return VerbActions.AskAndPrintAsync(r, command, timeout);
        });
        return exec;
    }
}
