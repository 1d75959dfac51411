using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace CloonixActors.Host;

/// <summary>
/// Akka logger that writes each log line to the daemon's log file (STATE_DIR/cloonixd.log) and to stderr.
/// stdout stays free for what a program is asked to print.
/// </summary>
public sealed class FileAndStderrLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private StreamWriter? _file;

    public FileAndStderrLogger()
    {
        Receive<InitializeLogger>(_ =>
        {
            var path = Context.System.Settings.Config.GetString("cloonix.log-file", string.Empty);
            if (!string.IsNullOrEmpty(path))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            }

            Sender.Tell(new LoggerInitialized());
        });
        Receive<LogEvent>(e =>
        {
            var line = $"{e.Timestamp:yyyy-MM-ddTHH:mm:ss.fffZ} {Level(e.LogLevel())} [{e.LogSource}] {e.Message}{(e is Error { Cause: { } c } ? " " + c.GetBaseException().Message : string.Empty)}";
            _file?.WriteLine(line);
            Console.Error.WriteLine(line);
        });
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "DEBUG",
        LogLevel.InfoLevel => "INFO ",
        LogLevel.WarningLevel => "WARN ",
        _ => "ERROR",
    };

    protected override void PostStop() => _file?.Dispose();
}
