using CloonixActors.DataPlane;

namespace CloonixActors.Tests.Fakes;

/// <summary>Network namespaces held in memory: each with the host ends of its veth pairs.</summary>
public sealed class FakeContainerPlane : FakeDataPlane, IContainerPlane
{
    public const string Ensure = "ensure";
    public const string Delete = "delete";
    public const string Exec = "exec";

    private readonly Dictionary<string, SortedSet<string>> _namespaces = new(StringComparer.Ordinal);
    private readonly List<TimeSpan> _execTimeouts = [];

    /// <summary>How an exec answers; echoes its argv on stdout unless told otherwise.</summary>
    public Func<string, IReadOnlyList<string>, ProcessResult> ExecResponder { get; set; } =
        (_, argv) => new ProcessResult(0, string.Join(' ', argv), string.Empty, false);

    public IReadOnlyList<string> Namespaces
    {
        get
        {
            lock (Sync)
            {
                return [.. _namespaces.Keys.Order(StringComparer.Ordinal)];
            }
        }
    }

    public IReadOnlyList<TimeSpan> ExecTimeouts
    {
        get
        {
            lock (Sync)
            {
                return [.. _execTimeouts];
            }
        }
    }

    /// <summary>The host ends of a namespace's veths in ordinal order; null when the namespace does not exist.</summary>
    public IReadOnlyList<string>? HostIfsOf(string ns)
    {
        lock (Sync)
        {
            return _namespaces.TryGetValue(ns, out var ifs) ? [.. ifs] : null;
        }
    }

    /// <summary>Puts a namespace in place as if an earlier run had left it.</summary>
    public void Seed(string ns, params string[] hostIfs)
    {
        lock (Sync)
        {
            _namespaces[ns] = new SortedSet<string>(hostIfs, StringComparer.Ordinal);
        }
    }

    /// <summary>Logged with arguments "hostIf:guestIf"; returns the host ends it had to create.</summary>
    public async Task<IReadOnlyList<string>> EnsureContainerAsync(string ns, IReadOnlyList<VethPair> nics)
    {
        await Enter(Ensure, ns, nics.Select(n => $"{n.HostIf}:{n.GuestIf}")).ConfigureAwait(false);
        lock (Sync)
        {
            if (!_namespaces.TryGetValue(ns, out var ifs))
            {
                _namespaces[ns] = ifs = new SortedSet<string>(StringComparer.Ordinal);
            }

            var created = nics.Select(n => n.HostIf).Where(h => !ifs.Contains(h)).ToList();
            ifs.UnionWith(created);
            return created;
        }
    }

    public async Task DeleteContainerAsync(string ns, IReadOnlyList<string> hostIfs)
    {
        await Enter(Delete, ns, hostIfs).ConfigureAwait(false);
        lock (Sync)
        {
            _namespaces.Remove(ns);
        }
    }

    public async Task<ProcessResult> ExecAsync(string ns, IReadOnlyList<string> argv, TimeSpan timeout)
    {
        await Enter(Exec, ns, argv).ConfigureAwait(false);
        lock (Sync)
        {
            _execTimeouts.Add(timeout);
        }

        return ExecResponder(ns, argv);
    }

    public IReadOnlyList<string> ListNamespaces(string prefix)
    {
        lock (Sync)
        {
            return [.. _namespaces.Keys.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
        }
    }
}
