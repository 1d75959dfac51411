using System.Text;

namespace CloonixActors.DataPlane;

/// <summary>
/// The bound on what a program's output may put in a reply: each of stdout and stderr at most
/// <see cref="MaxBytes"/> bytes once encoded as UTF-8 (the encoding the reply travels in), so an exec
/// reply (both streams and the marks) stays far below Akka.Remote's 4 MiB frame. Output cut short is
/// said so on stderr with one line, so stdout stays a clean prefix of what the program wrote.
/// </summary>
public static class OutputCap
{
    /// <summary>Bytes of stdout, and of stderr, kept; the guest agent keeps the same (CAP in images/tiny/agent.sh).</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>The line appended to stderr when <paramref name="stream"/> was cut to <paramref name="kept"/> bytes.</summary>
    public static string Mark(string stream, long kept, long? total) =>
        total is { } t
            ? $"[cloonix: {stream} truncated after {kept} bytes of {t}]\n"
            : $"[cloonix: {stream} truncated after {kept} bytes]\n";

    /// <summary>
    /// Decodes captured bytes as UTF-8 and cuts the text so its UTF-8 encoding is at most
    /// <paramref name="maxBytes"/> bytes: invalid bytes decode to U+FFFD, three bytes each, so the raw
    /// count alone does not bound the reply. Returns the text and whether anything was cut.
    /// </summary>
    public static (string Text, bool Cut) Decode(ReadOnlySpan<byte> captured, int maxBytes = MaxBytes)
    {
        var text = Encoding.UTF8.GetString(captured);
        return Fit(text, maxBytes);
    }

    /// <summary>Cuts <paramref name="text"/> at a character boundary so its UTF-8 encoding fits <paramref name="maxBytes"/>.</summary>
    public static (string Text, bool Cut) Fit(string text, int maxBytes = MaxBytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= maxBytes / 3 || Encoding.UTF8.GetByteCount(text) <= maxBytes)
        {
            return (text, false);
        }

        var bytes = 0;
        var i = 0;
        while (i < text.Length)
        {
            var width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            var size = Encoding.UTF8.GetByteCount(text.AsSpan(i, width));
            if (bytes + size > maxBytes)
            {
                break;
            }

            bytes += size;
            i += width;
        }

        return (text[..i], true);
    }

    /// <summary>
    /// The stdout and stderr a reply carries: each decoded and fitted, with one mark line per stream that
    /// was cut appended to stderr. <paramref name="stdoutTotal"/> and <paramref name="stderrTotal"/> are the
    /// bytes the program wrote when known (null when the capture was cut before it reached us).
    /// </summary>
    public static (string Stdout, string Stderr) Finish(ReadOnlySpan<byte> stdout, long? stdoutTotal, ReadOnlySpan<byte> stderr, long? stderrTotal, int maxBytes = MaxBytes)
    {
        var (outText, outCut) = Decode(stdout, maxBytes);
        var (errText, errCut) = Decode(stderr, maxBytes);
        var marks = new StringBuilder();
        if (outCut || stdoutTotal > stdout.Length || (stdoutTotal is null && stdout.Length >= maxBytes))
        {
            marks.Append(Mark("stdout", Encoding.UTF8.GetByteCount(outText), stdoutTotal));
        }

        if (errCut || stderrTotal > stderr.Length || (stderrTotal is null && stderr.Length >= maxBytes))
        {
            marks.Append(Mark("stderr", Encoding.UTF8.GetByteCount(errText), stderrTotal));
        }

        if (marks.Length == 0)
        {
            return (outText, errText);
        }

        var separator = errText.Length > 0 && !errText.EndsWith('\n') ? "\n" : string.Empty;
        return (outText, errText + separator + marks);
    }
}
