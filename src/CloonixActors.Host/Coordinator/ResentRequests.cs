namespace CloonixActors.Host.Coordinator;

/// <summary>
/// The request ids the coordinator has seen, so a request that an api resent (its ack was lost, or the
/// singleton moved) is carried out once. A request set aside until the coordinator is warm comes back
/// under the same id: that once it is carried out. The last <paramref name="capacity"/> ids are kept.
/// </summary>
public sealed class ResentRequests(int capacity = 10000)
{
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly HashSet<string> _stashed = new(StringComparer.Ordinal);

    /// <summary>True when the request is to be carried out (seen first, or back from the stash); false for a resend of one in hand.</summary>
    public bool Carry(string requestId)
    {
        if (_seen.Contains(requestId) && !_stashed.Remove(requestId))
        {
            return false;
        }

        if (_seen.Add(requestId))
        {
            _order.Enqueue(requestId);
            if (_order.Count > capacity)
            {
                _seen.Remove(_order.Dequeue());
            }
        }

        return true;
    }

    /// <summary>The request is set aside (stashed) and will come back once.</summary>
    public void Stashed(string requestId) => _stashed.Add(requestId);
}
