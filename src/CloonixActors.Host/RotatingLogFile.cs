using System.Text;

namespace CloonixActors.Host;

/// <summary>
/// An append-only log file kept below a size: when a line would take <c>path</c> past
/// <see cref="MaxBytes"/>, <c>path</c> becomes <c>path.1</c>, <c>path.1</c> becomes <c>path.2</c> and so
/// on, the oldest beyond <see cref="Keep"/> is deleted, and a new <c>path</c> is started. So a flood of
/// log lines (refused requests, a failing peer) costs at most (Keep + 1) × MaxBytes of disk.
/// </summary>
public sealed class RotatingLogFile : IDisposable
{
    private readonly string _path;
    private FileStream? _file;
    private long _size;

    public RotatingLogFile(string path, long maxBytes, int keep)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        _path = path;
        MaxBytes = maxBytes;
        Keep = keep;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        Open();
    }

    public long MaxBytes { get; }

    public int Keep { get; }

    /// <summary>Appends one line (a newline is added), rotating first when it would not fit.</summary>
    public void WriteLine(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        if (_size > 0 && _size + bytes.Length > MaxBytes)
        {
            Rotate();
        }

        // A single line longer than the limit still goes in whole, into a file of its own.
        _file!.Write(bytes);
        _file.Flush();
        _size += bytes.Length;
    }

    private void Open()
    {
        _file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        _size = _file.Length;
    }

    private void Rotate()
    {
        _file?.Dispose();
        _file = null;
        try
        {
            if (Keep == 0)
            {
                File.Delete(_path);
            }
            else
            {
                File.Delete($"{_path}.{Keep}");
                for (var i = Keep - 1; i >= 1; i--)
                {
                    if (File.Exists($"{_path}.{i}"))
                    {
                        File.Move($"{_path}.{i}", $"{_path}.{i + 1}");
                    }
                }

                File.Move(_path, $"{_path}.1");
            }
        }
        catch (IOException)
        {
            // Someone else moved the files (logrotate, an operator): carry on in whatever is at the path.
        }
        catch (UnauthorizedAccessException)
        {
            // Same: the log keeps going, rotation is best effort.
        }

        Open();
    }

    public void Dispose() => _file?.Dispose();
}
