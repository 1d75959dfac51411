using System.Collections;
using System.Reflection;

namespace CloonixActors.Tests.Serialization;

/// <summary>
/// Deep equality for message records: the same runtime types, the same public property values, arrays and
/// other collections element by element (a record's own Equals compares arrays by reference).
/// </summary>
internal static class Structural
{
    public static void AssertEqual(object? expected, object? actual)
    {
        var difference = Difference(expected, actual, "$");
        Assert.True(difference is null, $"differs at {difference}");
    }

    /// <summary>Null when equal, else the path of the first difference and the two values there.</summary>
    public static string? Difference(object? expected, object? actual, string path)
    {
        if (expected is null || actual is null)
        {
            return expected is null && actual is null ? null : $"{path}: {Show(expected)} vs {Show(actual)}";
        }

        var type = expected.GetType();
        if (type != actual.GetType())
        {
            return $"{path}: type {type.FullName} vs {actual.GetType().FullName}";
        }

        // An actor ref is its path: its properties lead back to itself (the root's parent is the root).
        if (expected is Akka.Actor.IActorRef expectedRef)
        {
            return expectedRef.Path.ToString() == ((Akka.Actor.IActorRef)actual).Path.ToString() ? null : $"{path}: {Show(expected)} vs {Show(actual)}";
        }

        if (type.IsPrimitive || type.IsEnum || expected is string or decimal or TimeSpan or DateTime or DateTimeOffset or Guid)
        {
            return expected.Equals(actual) ? null : $"{path}: {Show(expected)} vs {Show(actual)}";
        }

        if (expected is IEnumerable expectedItems)
        {
            var e = expectedItems.Cast<object?>().ToList();
            var a = ((IEnumerable)actual).Cast<object?>().ToList();
            if (e.Count != a.Count)
            {
                return $"{path}: {e.Count} item(s) vs {a.Count}";
            }

            return Enumerable.Range(0, e.Count).Select(i => Difference(e[i], a[i], $"{path}[{i}]")).FirstOrDefault(d => d is not null);
        }

        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0)
            .Select(p => Difference(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}"))
            .FirstOrDefault(d => d is not null);
    }

    private static string Show(object? value) => value is null ? "null" : $"'{value}'";
}
