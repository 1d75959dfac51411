using System.Text;

namespace CloonixActors.DataPlane.Qemu;

/// <summary>
/// Reads newline-ended ASCII lines from a stream a guest writes, holding at most
/// <c>maxLineBytes</c> of one line: a guest that sends an endless line, or a reply larger than any the
/// protocol allows, gets a <see cref="DataPlaneException"/> instead of growing the daemon's memory.
/// </summary>
public sealed class BoundedLineReader(Stream stream, int maxLineBytes)
{
    private readonly byte[] _chunk = new byte[64 * 1024];
    private readonly MemoryStream _line = new();
    private int _start;
    private int _end;

    /// <summary>The next line without its '\n' (and '\r'), or null at the end of the stream (a last unended line is dropped).</summary>
    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        _line.SetLength(0);
        while (true)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = await stream.ReadAsync(_chunk, cancellationToken).ConfigureAwait(false);
                if (_end == 0)
                {
                    return null;
                }
            }

            var newline = Array.IndexOf(_chunk, (byte)'\n', _start, _end - _start);
            var stop = newline < 0 ? _end : newline;
            if (_line.Length + (stop - _start) > maxLineBytes)
            {
                throw new DataPlaneException($"the guest agent sent a line longer than {maxLineBytes} bytes; the request is abandoned");
            }

            _line.Write(_chunk, _start, stop - _start);
            _start = newline < 0 ? _end : newline + 1;
            if (newline >= 0)
            {
                var bytes = _line.GetBuffer().AsSpan(0, (int)_line.Length);
                return Encoding.ASCII.GetString(bytes.EndsWith("\r"u8) ? bytes[..^1] : bytes);
            }
        }
    }
}
