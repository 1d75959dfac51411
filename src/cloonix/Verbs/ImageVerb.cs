using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix image build NAME: a guest image built on the host.</summary>
internal static class ImageVerb
{
    /// <summary>A build downloads packages: without --timeout the client waits this long, not the usual 120 s.</summary>
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(15);

    public static Command Create() => new("image", "guest images") { Build() };

    private static Command Build()
    {
        var name = new Argument<string>("NAME") { Description = "tiny" };
        var build = new Command("build", "build a guest image on the host (takes a minute or two)") { name };
        build.SetAction((r, _) =>
        {
            if (r.GetValue(name) == "tiny")
            {
                Console.Error.WriteLine("cloonix: building image tiny on the host (downloads Debian packages; a minute or two)...");
            }

            return VerbActions.AskAndPrintAsync(r, new BuildImage(r.GetValue(name)!), GlobalOptions.TimeoutOf(r, BuildTimeout));
        });
        return build;
    }
}
