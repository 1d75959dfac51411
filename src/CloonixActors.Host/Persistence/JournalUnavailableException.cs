namespace CloonixActors.Host.Persistence;

/// <summary>
/// A journal write that did not go through because the database could not be written (server down, disk
/// full, no answer in time). Persistent actors see it as a rejection, so they keep running, and their
/// data-plane children with them, instead of being stopped as Akka.Persistence stops them on a write failure.
/// </summary>
public sealed class JournalUnavailableException : Exception
{
    public JournalUnavailableException()
        : base("the journal is unavailable")
    {
    }

    public JournalUnavailableException(string message)
        : base(message)
    {
    }

    public JournalUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The write got no answer in time: it may still have been recorded (a catch-up read settles it).</summary>
    public bool MayHaveBeenWritten { get; init; }
}
