using System.Reflection;
using System.Text.RegularExpressions;
using Akka.Actor;
using Hyperion;

namespace CloonixActors.Protocol.Wire;

/// <summary>
/// The types Hyperion may build from bytes that came off the network or out of the journal: every message
/// record of this assembly (<see cref="ICloonixMessage"/>) and the types their fields hold, found by
/// reflection, so a new message type cannot be forgotten; plus the surrogates Akka writes for the
/// <see cref="IActorRef"/> fields of the stream messages. Nothing else is built.
/// </summary>
public static partial class WireTypes
{
    /// <summary>Every allowed type.</summary>
    public static IReadOnlySet<Type> Allowed { get; } = Derive();

    /// <summary>The allowed types' names as <see cref="Normalize"/> writes them.</summary>
    private static readonly HashSet<string> AllowedNames = [.. Allowed.Select(t => Normalize(t.AssemblyQualifiedName!))];

    /// <summary>The filter Hyperion consults for every type name it reads (and for the root type it writes).</summary>
    public static ITypeFilter Filter { get; } = new AllowListFilter();

    /// <summary>True when the type Hyperion names by <paramref name="typeName"/> may be built.</summary>
    public static bool IsAllowed(string? typeName) => typeName is not null && AllowedNames.Contains(Normalize(typeName));

    /// <summary>
    /// A type name without assembly versions, cultures and key tokens. Hyperion reads names in its short form
    /// ("System.String, System.Private.CoreLib,%core%") and checks the root type it writes by its full
    /// assembly-qualified name: both come down to "System.String, System.Private.CoreLib".
    /// </summary>
    public static string Normalize(string typeName) =>
        AssemblyDetails().Replace(typeName.Replace(",%core%", string.Empty, StringComparison.Ordinal), string.Empty);

    [GeneratedRegex(@"(, Version=[\d\.]+)?(, Culture=[^,\] \t]+)?(, PublicKeyToken=(null|[\da-fA-F]+))?", RegexOptions.CultureInvariant)]
    private static partial Regex AssemblyDetails();

    private static HashSet<Type> Derive()
    {
        var protocol = typeof(ICloonixMessage).Assembly;
        var seen = new HashSet<Type>();
        var next = new Queue<Type>(protocol.GetTypes().Where(t => typeof(ICloonixMessage).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false }));
        while (next.TryDequeue(out var type))
        {
            if (!seen.Add(type))
            {
                continue;
            }

            if (type.IsArray)
            {
                next.Enqueue(type.GetElementType()!);
            }

            foreach (var argument in type.IsGenericType ? type.GetGenericArguments() : [])
            {
                next.Enqueue(argument);
            }

            // Only this assembly's records are walked into: a field of another assembly's type is allowed
            // itself (a string, a TimeSpan), not everything that type holds inside.
            if (type.Assembly == protocol)
            {
                foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                {
                    next.Enqueue(field.FieldType);
                }
            }
        }

        if (seen.Any(typeof(IActorRef).IsAssignableFrom))
        {
            // An actor ref travels as the surrogate Akka makes of it (a path), and is resolved on arrival.
            seen.Add(typeof(ActorRefBase.Surrogate));
            seen.Add(typeof(Nobody.NobodySurrogate));
        }

        // Interfaces and abstract types are never built; what Hyperion writes is always a concrete type.
        seen.RemoveWhere(t => t.IsInterface || t.IsAbstract);
        return seen;
    }

    private sealed class AllowListFilter : ITypeFilter
    {
        public bool IsAllowed(string typeName) => WireTypes.IsAllowed(typeName);
    }
}
