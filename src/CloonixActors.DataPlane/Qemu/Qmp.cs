using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace CloonixActors.DataPlane.Qemu;

/// <summary>Minimal QMP: connect, negotiate capabilities, run one command (system_powerdown, quit, query-status).</summary>
public static class Qmp
{
    public static async Task<JsonElement> ExecuteAsync(string socketPath, string command, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cts.Token).ConfigureAwait(false);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            await ReadReplyAsync(reader, greeting: true, cts.Token).ConfigureAwait(false);
            await SendAsync(stream, "qmp_capabilities", cts.Token).ConfigureAwait(false);
            await ReadReplyAsync(reader, greeting: false, cts.Token).ConfigureAwait(false);
            await SendAsync(stream, command, cts.Token).ConfigureAwait(false);
            return await ReadReplyAsync(reader, greeting: false, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException or JsonException)
        {
            throw new DataPlaneException($"QMP {command}: {ex.Message}");
        }
    }

    private static Task SendAsync(Stream stream, string command, CancellationToken ct) =>
        stream.WriteAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { execute = command }) + "\n"), ct).AsTask();

    /// <summary>Skips asynchronous events; returns the greeting or the command's "return".</summary>
    private static async Task<JsonElement> ReadReplyAsync(StreamReader reader, bool greeting, CancellationToken ct)
    {
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (greeting && root.TryGetProperty("QMP", out var qmp))
            {
                return qmp.Clone();
            }

            if (root.TryGetProperty("return", out var ret))
            {
                return ret.Clone();
            }

            if (root.TryGetProperty("error", out var error))
            {
                throw new DataPlaneException($"QMP error: {error.GetProperty("desc").GetString()}");
            }
        }

        throw new IOException("QMP closed the connection");
    }
}
