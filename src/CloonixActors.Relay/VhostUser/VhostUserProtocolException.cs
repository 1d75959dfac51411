namespace CloonixActors.Relay.VhostUser;

/// <summary>
/// A message the front-end sent that we cannot accept. <see cref="Fatal"/> means the byte stream can no
/// longer be trusted (bad version, absurd size, lost descriptors) and the connection must be dropped;
/// otherwise only that one message fails (nacked when the front-end asked for a reply).
/// </summary>
public sealed class VhostUserProtocolException : Exception
{
    public VhostUserProtocolException()
    {
    }

    public VhostUserProtocolException(string message)
        : base(message)
    {
    }

    public VhostUserProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public VhostUserProtocolException(string message, bool fatal)
        : base(message)
    {
        Fatal = fatal;
    }

    public bool Fatal { get; }
}
