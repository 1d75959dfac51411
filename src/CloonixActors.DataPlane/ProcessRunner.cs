using System.Diagnostics;
using System.Text;

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
/// thread. Output beyond <see cref="MaxCapture"/> bytes per stream is dropped so a chatty program cannot
/// exhaust the daemon's memory.
/// </summary>
public static class ProcessRunner
{
    public const int MaxCapture = 1 << 20;

    public static async Task<ProcessResult> RunAsync(
        string program,
        IEnumerable<string> args,
        TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default,
        string? stdin = null)
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

        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin).ConfigureAwait(false);
        }

        process.StandardInput.Close();
        var stdout = ReadCappedAsync(process.StandardOutput);
        var stderr = ReadCappedAsync(process.StandardError);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(30));
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited between the timeout and the kill.
            }

            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return new ProcessResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), timedOut);
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

    private static async Task<string> ReadCappedAsync(StreamReader reader)
    {
        var sb = new StringBuilder();
        var buffer = new char[8192];
        int n;
        while ((n = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            if (sb.Length < MaxCapture)
            {
                sb.Append(buffer, 0, Math.Min(n, MaxCapture - sb.Length));
            }
        }

        return sb.ToString();
    }
}
