using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using CloonixActors.Protocol.Wire;

namespace CloonixActors.Host;

/// <summary>
/// Akka logger that writes each log line to the daemon's log file (STATE_DIR/cloonixd.log) and to stderr.
/// stdout stays free for what a program is asked to print. The file is rotated by size
/// (<c>cloonix.log-max-bytes</c>, <c>cloonix.log-keep</c> older files).
/// </summary>
public sealed class FileAndStderrLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private static readonly TimeSpan TransportNoisePeriod = TimeSpan.FromSeconds(10);
    private readonly LogThrottle _transportNoise = new(TransportNoisePeriod, burst: 20);
    private RotatingLogFile? _file;

    public FileAndStderrLogger()
    {
        Receive<InitializeLogger>(_ =>
        {
            var config = Context.System.Settings.Config;
            var path = config.GetString("cloonix.log-file", string.Empty);
            if (!string.IsNullOrEmpty(path))
            {
                var maxBytes = config.GetByteSize("cloonix.log-max-bytes", DefaultMaxBytes) ?? DefaultMaxBytes;
                var keep = config.GetInt("cloonix.log-keep", DefaultKeep);
                _file = new RotatingLogFile(path, Math.Max(maxBytes, MinMaxBytes), Math.Max(keep, 0));
            }

            Sender.Tell(new LoggerInitialized());
        });
        Receive<LogEvent>(e =>
        {
            // Each refused TLS handshake makes the transport log an error and a warning: a port scanner or a
            // stranger retrying would fill the log. At most a burst of transport lines per period, then a count.
            var suffix = string.Empty;
            if (e.LogLevel() >= LogLevel.WarningLevel && IsTransport(e.LogSource))
            {
                if (!_transportNoise.ShouldLog(out var suppressed))
                {
                    return;
                }

                suffix = LogThrottle.Suffix(suppressed, TransportNoisePeriod);
            }

            var line = $"{e.Timestamp:yyyy-MM-ddTHH:mm:ss.fffZ} {Level(e.LogLevel())} [{e.LogSource}] {e.Message}{(e is Error { Cause: { } c } ? " " + c.GetBaseException().Message : string.Empty)}{suffix}";
            _file?.WriteLine(line);
            Console.Error.WriteLine(line);
        });
    }

    private const long DefaultMaxBytes = 10 << 20;
    private const int DefaultKeep = 5;

    /// <summary>Below this a rotation per line or so would be all the logger does.</summary>
    private const long MinMaxBytes = 64 << 10;

    /// <summary>DotNetty's handlers (TLS handshakes, bad frames) log as their type name or under the transport's path.</summary>
    private static bool IsTransport(string? source) =>
        source is not null && (source.Contains("DotNetty", StringComparison.Ordinal) || source.Contains("TcpServerHandler", StringComparison.Ordinal) || source.Contains("TcpClientHandler", StringComparison.Ordinal));

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "DEBUG",
        LogLevel.InfoLevel => "INFO ",
        LogLevel.WarningLevel => "WARN ",
        _ => "ERROR",
    };

    protected override void PostStop() => _file?.Dispose();
}
