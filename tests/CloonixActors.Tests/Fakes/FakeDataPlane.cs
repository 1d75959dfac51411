using CloonixActors.DataPlane;

namespace CloonixActors.Tests.Fakes;

/// <summary>One call a fake received: what, on which bridge or namespace, with which arguments.</summary>
public sealed record FakeCall(string Operation, string Target, IReadOnlyList<string> Args)
{
    public override string ToString() => $"{Operation} {Target} [{string.Join(' ', Args)}]";
}

/// <summary>
/// What the data-plane fakes share: a log of every call, operations that can be told to fail, and a pause
/// that holds every call (after it is logged) until <see cref="Resume"/>, to catch an actor mid-operation.
/// Calls come from thread-pool threads, so all state is under one lock.
/// </summary>
public abstract class FakeDataPlane
{
    private readonly Lock _lock = new();
    private readonly List<FakeCall> _calls = [];
    private readonly Dictionary<string, string> _failures = new(StringComparer.Ordinal);
    private TaskCompletionSource? _pause;

    protected Lock Sync => _lock;

    public IReadOnlyList<FakeCall> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    public IReadOnlyList<FakeCall> CallsTo(string operation) => [.. Calls.Where(c => c.Operation == operation)];

    /// <summary>Every later call of <paramref name="operation"/> throws <see cref="DataPlaneException"/> with <paramref name="message"/>.</summary>
    public void Fail(string operation, string message)
    {
        lock (_lock)
        {
            _failures[operation] = message;
        }
    }

    public void Heal(string operation)
    {
        lock (_lock)
        {
            _failures.Remove(operation);
        }
    }

    public void Pause()
    {
        lock (_lock)
        {
            _pause ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Resume()
    {
        TaskCompletionSource? pause;
        lock (_lock)
        {
            pause = _pause;
            _pause = null;
        }

        pause?.TrySetResult();
    }

    /// <summary>Logs the call, waits while paused, then throws if the operation is told to fail.</summary>
    protected async Task Enter(string operation, string target, IEnumerable<string> args)
    {
        Task gate;
        lock (_lock)
        {
            _calls.Add(new FakeCall(operation, target, [.. args]));
            gate = _pause?.Task ?? Task.CompletedTask;
        }

        // Like the real adapters, never complete on the caller's thread.
        await Task.Yield();
        await gate.ConfigureAwait(false);
        string? failure;
        lock (_lock)
        {
            failure = _failures.GetValueOrDefault(operation);
        }

        if (failure is not null)
        {
            throw new DataPlaneException(failure);
        }
    }
}
