using System.Diagnostics;
using System.Runtime.InteropServices;

namespace CloonixActors.DataPlane;

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    public bool Ok => ExitCode == 0 && !TimedOut;

    /// <summary>The most useful single line to put in an error message.</summary>
    public string FirstErrorLine
    {
        get
        {
            var text = string.IsNullOrWhiteSpace(Stderr) ? Stdout : Stderr;
            var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            return TimedOut ? "timed out" : line ?? $"exit code {ExitCode}";
        }
    }
}

public sealed class DataPlaneException(string message) : Exception(message);

/// <summary>
/// Starts programs with an argument list (never a shell) and collects their output without blocking a
/// thread. Output beyond <see cref="OutputCap.MaxBytes"/> bytes per stream is read and dropped (so the
/// program is not blocked) and said so on stderr, so a chatty program cannot exhaust the daemon's memory
/// nor make a reply too large for the frame. The call returns by its timeout whatever the program does:
/// at the timeout the program (and, for <see cref="ExecAsync"/>, its whole process group) is killed, and
/// the pipes are read only until <see cref="ExitGrace"/> after the program exited, since a child it left
/// in the background (<c>sh -c 'sleep 60 &amp;'</c>) keeps them open.
/// </summary>
public static partial class ProcessRunner
{
    /// <summary>Exit code of a program killed at its timeout (as timeout(1) and the guest agent report it).</summary>
    public const int TimedOutExitCode = 124;

    /// <summary>How long the pipes are still read after the program exited (its background children may hold them).</summary>
    public static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(1);

    /// <summary>How long to wait for a killed program to be gone (a process in uninterruptible sleep may take longer).</summary>
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(5);

    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "getpgid", SetLastError = true)]
    private static partial int GetProcessGroup(int pid);

    /// <summary>
    /// Runs a program a user asked for (exec in a node) in its own session and process group
    /// (<c>setsid</c>, no shell), so its timeout kills everything it started, not only its first process.
    /// </summary>
    public static Task<ProcessResult> ExecAsync(string program, IEnumerable<string> args, TimeSpan timeout) =>
        RunAsync("setsid", new[] { "--wait", "--", program }.Concat(args), timeout, ownGroup: true);

    public static Task<ProcessResult> RunAsync(
        string program,
        IEnumerable<string> args,
        TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default,
        string? stdin = null) =>
        RunAsync(program, args, timeout ?? TimeSpan.FromSeconds(30), ownGroup: false, environment, cancellationToken, stdin);

    /// <summary>
    /// Starting a process forks and searches PATH on the calling thread, often an actor's: the start runs on
    /// the thread pool instead, so no caller's thread waits on the OS.
    /// </summary>
    private static Task<ProcessResult> RunAsync(
        string program,
        IEnumerable<string> args,
        TimeSpan timeout,
        bool ownGroup,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default,
        string? stdin = null)
    {
        // The arguments are read now: a caller's collection may change once it has moved on.
        var argv = args.ToList();
        return Task.Run(() => RunOnPoolAsync(program, argv, timeout, ownGroup, environment, cancellationToken, stdin), CancellationToken.None);
    }

    private static async Task<ProcessResult> RunOnPoolAsync(
        string program,
        IEnumerable<string> args,
        TimeSpan timeout,
        bool ownGroup,
        IReadOnlyDictionary<string, string>? environment,
        CancellationToken cancellationToken,
        string? stdin)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new DataPlaneException($"cannot start {program}: {ex.Message}");
        }

        using var stopReading = new CancellationTokenSource();
        var stdout = CaptureAsync(process.StandardOutput.BaseStream, stopReading.Token);
        var stderr = CaptureAsync(process.StandardError.BaseStream, stopReading.Token);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var timedOut = false;
        try
        {
            if (stdin is not null)
            {
                try
                {
                    await process.StandardInput.WriteAsync(stdin.AsMemory(), cts.Token).ConfigureAwait(false);
                    await process.StandardInput.FlushAsync(cts.Token).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // The program closed its stdin without reading it all: its exit code tells the rest.
                }
            }

            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Same: nothing left to tell it.
            }

            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            KillAll(process, ownGroup);
            using var wait = new CancellationTokenSource(KillWait);
            try
            {
                await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Still there (uninterruptible sleep): the caller gets its answer anyway.
            }
        }

        // Children left in the background (or that escaped the group kill) may hold the pipes open for as
        // long as they live; what was written before the exit or the kill is read meanwhile.
        stopReading.CancelAfter(ExitGrace);
        var (outBytes, outTotal) = await stdout.ConfigureAwait(false);
        var (errBytes, errTotal) = await stderr.ConfigureAwait(false);
        var (outText, errText) = OutputCap.Finish(outBytes, outTotal, errBytes, errTotal);
        var exitCode = timedOut || !process.HasExited ? TimedOutExitCode : process.ExitCode;
        return new ProcessResult(exitCode, outText, errText, timedOut);
    }

    /// <summary>Runs and throws <see cref="DataPlaneException"/> with the program's own first error line on failure.</summary>
    public static async Task<string> RunCheckedAsync(string program, IEnumerable<string> args, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var list = args.ToList();
        var result = await RunAsync(program, list, timeout, environment).ConfigureAwait(false);
        if (!result.Ok)
        {
            throw new DataPlaneException($"{program} {string.Join(' ', list)}: {result.FirstErrorLine}");
        }

        return result.Stdout;
    }

    /// <summary>
    /// Kills the program's process tree (descendants that left its group with setsid included, while
    /// they are still its children), then its process group when it has its own (children already orphaned
    /// by their parent's exit). Never the daemon's group: it is checked first, since <c>setsid</c> may
    /// not have run yet.
    /// </summary>
    private static void KillAll(Process process, bool ownGroup)
    {
        var group = ownGroup ? GetProcessGroup(process.Id) : -1;
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the timeout and the kill.
        }

        if (group > 1 && group == process.Id && group != GetProcessGroup(Environment.ProcessId))
        {
            _ = Kill(-group, SigKill);
        }
    }

    /// <summary>Reads a pipe to its end or until <paramref name="stop"/>: keeps the first bytes, counts all of them.</summary>
    private static async Task<(byte[] Kept, long Total)> CaptureAsync(Stream stream, CancellationToken stop)
    {
        using var kept = new MemoryStream();
        var buffer = new byte[16384];
        long total = 0;
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, stop).ConfigureAwait(false)) > 0)
            {
                var room = OutputCap.MaxBytes - (int)kept.Length;
                if (room > 0)
                {
                    kept.Write(buffer, 0, Math.Min(n, room));
                }

                total += n;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Stopped reading (timeout, or a background child still holds the pipe): keep what came.
        }

        return (kept.ToArray(), total);
    }
}
