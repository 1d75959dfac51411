using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace CloonixActors.DataPlane.Qemu;

/// <summary>
/// Talks to the tiny guest's agent over the VM's virtio-serial port (a unix socket QEMU serves). One line
/// each way: <c>REQ id timeout b64(arg)...</c> and <c>RES id exit b64(stdout) b64(stderr)</c>; the agent
/// also says <c>HELLO version</c> when it starts. Arguments travel base64-encoded and the agent sets them
/// as positional parameters, so nothing is ever parsed as shell code. One connection per request keeps a
/// restarted QEMU or agent from leaving a stale connection behind. What the guest sends is bounded: a line
/// longer than <see cref="MaxLineBytes"/> ends the request with an error, and the output it carries is cut
/// to <see cref="OutputCap.MaxBytes"/> per stream like a container's.
/// </summary>
public static class GuestAgent
{
    /// <summary>
    /// The longest line accepted from the guest: a RES with both streams at the agent's cap
    /// (<see cref="OutputCap.MaxBytes"/>, 4/3 larger in base64) and its header fits with room to spare.
    /// </summary>
    public const int MaxLineBytes = 3 << 20;

    private static int _nextId;

    public static string Request(int id, IReadOnlyList<string> argv, TimeSpan timeout) =>
        string.Join(' ', new[] { "REQ", id.ToString(CultureInfo.InvariantCulture), ((int)Math.Ceiling(timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture) }
            .Concat(argv.Select(a => Convert.ToBase64String(Encoding.UTF8.GetBytes(a))))) + "\n";

    /// <summary>Parses a RES line for <paramref name="id"/>; null for any other line (HELLO, another id, noise).</summary>
    public static ProcessResult? ParseResponse(string line, int id)
    {
        var f = line.TrimEnd('\r', '\n').Split(' ');
        if (f.Length < 3 || f[0] != "RES" || f[1] != id.ToString(CultureInfo.InvariantCulture) || !int.TryParse(f[2], CultureInfo.InvariantCulture, out var exit))
        {
            return null;
        }

        // The agent keeps the first CAP bytes of each stream without saying whether there were more: a
        // stream of exactly the cap is marked as cut (an output of exactly 1 MiB is marked wrongly).
        var (stdout, stderr) = OutputCap.Finish(Decode(f.ElementAtOrDefault(3)), null, Decode(f.ElementAtOrDefault(4)), null);
        return new ProcessResult(exit, stdout, stderr, exit == ProcessRunner.TimedOutExitCode);
    }

    public static async Task<ProcessResult> ExecAsync(string socketPath, IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var id = Interlocked.Increment(ref _nextId);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The agent enforces the timeout itself; allow it time to report.
        cts.CancelAfter(timeout + TimeSpan.FromSeconds(10));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cts.Token).ConfigureAwait(false);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var request = Encoding.ASCII.GetBytes(Request(id, argv, timeout));
            await stream.WriteAsync(request, cts.Token).ConfigureAwait(false);
            var reader = new BoundedLineReader(stream, MaxLineBytes);
            while (await reader.ReadLineAsync(cts.Token).ConfigureAwait(false) is { } line)
            {
                if (ParseResponse(line, id) is { } result)
                {
                    return result;
                }
            }

            throw new DataPlaneException("the guest agent closed the connection without an answer");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DataPlaneException($"the guest agent did not answer within {(timeout + TimeSpan.FromSeconds(10)).TotalSeconds:0} s");
        }
        catch (SocketException ex)
        {
            throw new DataPlaneException($"cannot reach the guest agent: {ex.Message}");
        }
    }

    private static byte[] Decode(string? field)
    {
        if (string.IsNullOrEmpty(field))
        {
            return [];
        }

        try
        {
            return Convert.FromBase64String(field);
        }
        catch (FormatException)
        {
            return [];
        }
    }
}
