using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

/// <summary>
/// One <c>dpdk-testpmd</c> process pinned to one core, with its own in-memory EAL (no PCI, no shared
/// files, one memfd of hugepages as <c>net_virtio_user</c> needs). Interactive ones are driven through
/// stdin, command by command; the others forward from the start until disposed.
/// </summary>
internal sealed partial class TestPmd : IAsyncDisposable
{
    public const string Binary = "/usr/bin/dpdk-testpmd";
    private const string Prompt = "testpmd> ";

    private readonly Process _process;
    // stdout and stderr apart: stderr lines written while the prompt is printed would split "testpmd> " in a
    // shared buffer (seen: "t" + an error line + "estpmd> "), and the prompt is only looked for in stdout.
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errors = new();
    private readonly string _name;
    private readonly bool _interactive;
    private readonly Task _pump;

    private TestPmd(string name, Process process, bool interactive)
    {
        _name = name;
        _process = process;
        _interactive = interactive;
        _pump = Task.WhenAll(PumpAsync(process.StandardOutput, _output), PumpAsync(process.StandardError, _errors));
    }

    /// <param name="core">The one cpu its main and forwarding lcores share (the main one only sleeps).</param>
    /// <param name="vdevs">EAL <c>--vdev</c> values, one port each.</param>
    /// <param name="app">testpmd's own arguments (after <c>--</c>).</param>
    public static async Task<TestPmd> StartAsync(string name, int core, IEnumerable<string> vdevs, IEnumerable<string> app, bool interactive)
    {
        // taskset rather than inherit: the bench process itself may be pinned elsewhere.
        var psi = new ProcessStartInfo("taskset")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] eal =
        [
            // stdbuf: testpmd's printf output is block-buffered on a pipe, its prompt is not.
            "-c", core.ToString(CultureInfo.InvariantCulture), "stdbuf", "-oL", Binary,
            "--lcores", $"0@{core},1@{core}", "--no-pci", "--in-memory", "--single-file-segments", "-m", "64",
            "--file-prefix", $"relaypps-{name}-{Environment.ProcessId}", "--log-level", "lib.eal:warning",
        ];
        foreach (var a in eal.Concat(vdevs.SelectMany(v => new[] { "--vdev", v })).Append("--").Concat(app).Concat(interactive ? ["-i"] : []))
        {
            psi.ArgumentList.Add(a);
        }

        var pmd = new TestPmd(name, Process.Start(psi)!, interactive);
        if (interactive)
        {
            await pmd.WaitForPromptAsync(0, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }

        return pmd;
    }

    /// <summary>Sends one interactive command and returns what it printed before the next prompt.</summary>
    public async Task<string> CommandAsync(string command, TimeSpan? timeout = null)
    {
        int start;
        lock (_output)
        {
            start = _output.Length;
        }

        await _process.StandardInput.WriteLineAsync(command).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
        return await WaitForPromptAsync(start, timeout ?? TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    /// <summary>Frames and bytes received so far, summed over every port (<c>show port stats all</c>).</summary>
    public async Task<(long Packets, long Bytes)> ReceivedAsync()
    {
        var text = await CommandAsync("show port stats all").ConfigureAwait(false);
        long packets = 0, bytes = 0;
        foreach (Match m in RxPackets().Matches(text))
        {
            packets += long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        foreach (Match m in RxBytes().Matches(text))
        {
            bytes += long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        return (packets, bytes);
    }

    /// <summary>CPU time the process used so far (taskset and stdbuf exec it: same pid).</summary>
    public TimeSpan Cpu
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public string Log
    {
        get
        {
            string errors;
            lock (_errors)
            {
                errors = _errors.ToString();
            }

            lock (_output)
            {
                return errors.Length == 0 ? _output.ToString() : $"{_output}\n(stderr)\n{errors}";
            }
        }
    }

    private async Task<string> WaitForPromptAsync(int start, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            lock (_output)
            {
                var text = _output.ToString(start, _output.Length - start);
                // The prompt before the command was printed before start: the next one ends its output.
                var at = text.IndexOf(Prompt, StringComparison.Ordinal);
                if (at >= 0)
                {
                    return text[..at];
                }
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"testpmd {_name} exited ({_process.ExitCode}):\n{Tail()}");
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"testpmd {_name}: no prompt after {timeout.TotalSeconds} s:\n{Tail()}");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    public string Tail(int lines = 25) => string.Join('\n', Log.Split('\n').TakeLast(lines));

    private static async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            lock (into)
            {
                into.Append(buffer, 0, n);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // Interactive: quit stops the ports (the peer sees the vrings stop); otherwise "Press enter to exit".
                await _process.StandardInput.WriteLineAsync(_interactive ? "quit" : "").ConfigureAwait(false);
                await _process.StandardInput.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
        }

        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        await _pump.ConfigureAwait(false);
        _process.Dispose();
    }

    [GeneratedRegex(@"RX-packets:\s+(\d+)")]
    private static partial Regex RxPackets();

    [GeneratedRegex(@"RX-bytes:\s+(\d+)")]
    private static partial Regex RxBytes();
}
