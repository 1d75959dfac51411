using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Vms;

/// <summary>
/// The images VMs boot from: the check that a command's images exist before its VMs are recorded, and the
/// build of the tiny image. Both touch the disk (the build for minutes): callers run them off actor threads.
/// </summary>
public static class VmImages
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(15);

    /// <summary>The images the VMs of <paramref name="command"/> boot from; empty when it adds no VM.</summary>
    public static IReadOnlyList<string?> Of(ITopologyCommand command) => command switch
    {
        AddVm vm => [vm.Image],
        DeployTopology { Vms: { } vms } => [.. vms.Select(v => v?.Image ?? string.Empty)],
        _ => [],
    };

    /// <summary>Null when this host can run VMs at all; else why not (no disk is read).</summary>
    public static string? HostProblem(IVmPlane? plane, VmEnvironment? env) =>
        plane is null || env is null ? "this host runs no VMs" : null;

    /// <summary>The first image of <paramref name="images"/> that does not exist (or is no disk), or null; reads the disk.</summary>
    public static string? Problem(IEnumerable<string?> images, VmEnvironment env) =>
        images.Select(i => Problem(i, env)).FirstOrDefault(p => p is not null);

    private static string? Problem(string? image, VmEnvironment env)
    {
        if (image == "tiny")
        {
            return File.Exists(env.TinyKernel) && File.Exists(env.TinyInitrd)
                ? null
                : $"image 'tiny' is not built in {env.ImagesDir}: run `cloonix image build tiny`";
        }

        return image is not null && Path.IsPathFullyQualified(image) ? ImageFile.Problem(image) : null;
    }

    /// <summary>Runs the image's build script (minutes: it downloads Debian packages); the task's result is the client's answer.</summary>
    public static Task<object> BuildAsync(BuildImage build, VmEnvironment? env)
    {
        if (build.Name != "tiny" || env is null)
        {
            return Task.FromResult<object>(new CommandFailed(ErrorCode.InvalidArgument, $"unknown image '{Names.Printable(build.Name ?? string.Empty)}': the images this host builds are: tiny"));
        }

        var script = Path.Combine(AppContext.BaseDirectory, "images", "tiny", "build.sh");
        var outDir = Path.Combine(env.ImagesDir, "tiny");
        return ProcessRunner.RunAsync("bash", [script, outDir], BuildTimeout).ContinueWith<object>(
            t => t.IsCompletedSuccessfully
                ? t.Result.Ok
                    ? new CommandSucceeded($"image tiny built in {outDir}")
                    : new CommandFailed(ErrorCode.DataPlane, $"image tiny: {t.Result.FirstErrorLine}")
                : new CommandFailed(ErrorCode.DataPlane, $"image tiny: {t.Exception?.GetBaseException().Message ?? "cancelled"}"),
            TaskScheduler.Default);
    }
}
