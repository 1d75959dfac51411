using System.Runtime.InteropServices;
using System.Threading.Channels;
using Akka.Actor;
using CloonixActors.Protocol;

namespace CloonixActors.Cli;

/// <summary>
/// The client's end of a stream (a capture or the event feed): an actor of the client's system that the
/// cluster sends to directly, which hands every message, with its sender, to the command's loop through a
/// channel. The loop takes only what comes from the actor the cluster named for the stream (see <see cref="Delivery.IsFrom"/>).
/// </summary>
public sealed class StreamReceiver : ReceiveActor
{
    public StreamReceiver(ChannelWriter<object> writer) => ReceiveAny(m => writer.TryWrite(new Delivery(m, Sender)));

    public static Props Props(ChannelWriter<object> writer) => Akka.Actor.Props.Create(() => new StreamReceiver(writer));
}

/// <summary>One message of a stream and who sent it.</summary>
public sealed record Delivery(object Message, IActorRef Sender)
{
    /// <summary>
    /// Sent from the host that serves the stream: the address of the session the cluster answered with.
    /// Anyone who reaches the client's port could otherwise write into its pcap stream or its events.
    /// </summary>
    public bool IsFrom(IActorRef session) => !Sender.IsNobody() && Sender.Path.Address == session.Path.Address;
}

/// <summary>
/// Ends a streaming command on Ctrl-C, SIGTERM or after a duration, the same way for all three: the loop
/// stops, the last chunks and the summary are still taken. SIGTERM matters where SIGINT cannot arrive: a
/// process started from a background job or under nohup inherits SIGINT ignored, and .NET leaves an
/// ignored SIGINT ignored.
/// </summary>
public sealed class StopSignal : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly PosixSignalRegistration _int;
    private readonly PosixSignalRegistration _term;

    public StopSignal(double seconds)
    {
        _cts = seconds > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds)) : new CancellationTokenSource();
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    }

    public CancellationToken Token => _cts.Token;

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _cts.Cancel();
    }

    public void Dispose()
    {
        _int.Dispose();
        _term.Dispose();
        _cts.Dispose();
    }
}

public static partial class Streams
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(2);

    /// <summary>
    /// cloonix spy: writes the nic's pcap stream to <paramref name="output"/> until stopped, acknowledging
    /// each chunk once it is written; prints the capture's summary on stderr. Exit 0 when the capture ran.
    /// </summary>
    public static async Task<int> CaptureAsync(ClusterConnection connection, string node, int nic, Func<Stream> openOutput, double seconds, bool json, TimeSpan timeout)
    {
        var channel = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
        var receiver = connection.System.ActorOf(StreamReceiver.Props(channel.Writer), "capture");
        var reply = await connection.AskAsync(new StartCapture(node, nic, receiver), timeout).ConfigureAwait(false);
        if (reply is not CaptureStarted started)
        {
            return Output.Print(reply, json);
        }

        await Console.Error.WriteLineAsync($"cloonix: capturing {node}/{nic}; Ctrl-C (or SIGTERM) stops").ConfigureAwait(false);
        using var stop = new StopSignal(seconds);
        var session = started.Session;
        long written = 0;
        Stream? output = null;
        var readerGone = false;
        try
        {
            // A FIFO opens only once its reader (Wireshark) has opened it: off the loop's critical path.
            output = await Task.Run(openOutput, stop.Token).ConfigureAwait(false);
            while (!stop.Token.IsCancellationRequested)
            {
                var next = From(session, await ReadAsync(channel.Reader, KeepAlive, stop.Token).ConfigureAwait(false));
                switch (next)
                {
                    case CaptureChunk chunk:
                        await output.WriteAsync(chunk.Data, stop.Token).ConfigureAwait(false);
                        await output.FlushAsync(stop.Token).ConfigureAwait(false);
                        written = chunk.Sequence;
                        break;
                    case CaptureStopped ended:
                        // Ended on the host's side (the nic was removed, the relay went away).
                        await Console.Error.WriteLineAsync(Output.CaptureSummary(ended, json)).ConfigureAwait(false);
                        return 1;
                }

                session.Tell(new CaptureAck(written), receiver);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
            // The reader closed the pipe (`| head`, Wireshark quit): end the capture cleanly.
            readerGone = true;
        }

        // Stop, then take the last chunks and the summary; after a stop the summary always follows them.
        session.Tell(new StopCapture(), receiver);
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            while (true)
            {
                var next = From(session, await ReadAsync(channel.Reader, KeepAlive, drain.Token).ConfigureAwait(false));
                if (next is CaptureChunk chunk)
                {
                    if (!readerGone && output is not null)
                    {
                        try
                        {
                            await output.WriteAsync(chunk.Data, drain.Token).ConfigureAwait(false);
                            await output.FlushAsync(drain.Token).ConfigureAwait(false);
                        }
                        catch (IOException)
                        {
                            readerGone = true;
                        }
                    }

                    session.Tell(new CaptureAck(chunk.Sequence), receiver);
                }
                else if (next is CaptureStopped ended)
                {
                    await Console.Error.WriteLineAsync(Output.CaptureSummary(ended, json)).ConfigureAwait(false);
                    return 0;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new ClientException("the capture's end was not confirmed by the host within 15 s", 4);
        }
        finally
        {
            if (output is not null)
            {
                try
                {
                    await output.DisposeAsync().ConfigureAwait(false);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>cloonix events: one line (or JSON object) per event until stopped or <paramref name="count"/> events.</summary>
    public static async Task<int> EventsAsync(ClusterConnection connection, int count, double seconds, bool json, TimeSpan timeout)
    {
        var channel = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
        var receiver = connection.System.ActorOf(StreamReceiver.Props(channel.Writer), "events");
        var reply = await connection.AskAsync(new SubscribeEvents(receiver), timeout).ConfigureAwait(false);
        if (reply is not EventsSubscribed subscribed)
        {
            return Output.Print(reply, json);
        }

        using var stop = new StopSignal(seconds);
        var seen = 0;
        try
        {
            while (count <= 0 || seen < count)
            {
                if (From(subscribed.Session, await ReadAsync(channel.Reader, KeepAlive, stop.Token).ConfigureAwait(false)) is NicTraffic t)
                {
                    seen++;
                    Console.WriteLine(json ? Output.TrafficJson(t) : Output.Traffic(t));
                }

                subscribed.Session.Tell(new EventsKeepAlive(), receiver);
            }
        }
        catch (OperationCanceledException)
        {
        }

        // The session watches the receiver: stopping it ends the subscription (a PoisonPill from another
        // process is refused by the daemon's serializers).
        connection.System.Stop(receiver);
        return 0;
    }

    /// <summary>The message of a delivery from the stream's host; null for anything else (dropped).</summary>
    private static object? From(IActorRef session, object? next) =>
        next is Delivery d && d.IsFrom(session) ? d.Message : null;

    /// <summary>The next message, or null after <paramref name="wait"/> (time for a keep-alive).</summary>
    private static async Task<object?> ReadAsync(ChannelReader<object> reader, TimeSpan wait, CancellationToken token)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(token);
        timer.CancelAfter(wait);
        try
        {
            return await reader.ReadAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Opens (creating when missing) a FIFO for writing; returns once a reader has opened it.</summary>
    public static Stream OpenFifo(string path)
    {
        if (!File.Exists(path))
        {
            if (MakeFifo(path, Convert.ToUInt32("600", 8)) != 0)
            {
                throw new ClientException($"cannot create the FIFO {path}: errno {Marshal.GetLastPInvokeError()}", 1);
            }
        }
        else if (!IsFifo(path))
        {
            throw new ClientException($"{path} exists and is not a FIFO (use --pcap to write a file)", 1);
        }

        return new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
    }

    /// <summary>st_mode's file type is FIFO (x86-64 struct stat: st_mode at byte 24).</summary>
    private static bool IsFifo(string path)
    {
        var stat = new byte[256];
        return Stat(path, stat) == 0 && (BitConverter.ToUInt32(stat, 24) & 0xF000) == 0x1000;
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MakeFifo(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, byte[] buffer);
}
