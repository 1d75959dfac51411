using System.Text.RegularExpressions;

namespace CloonixActors.Domain;

/// <summary>
/// The one gate every user-supplied name passes before it reaches a path, `ip`, `ovs-vsctl` or QEMU.
/// Lower-case letters, digits, '-' and '_', starting with a letter, 15 characters at most (the length of
/// a Linux interface name), so no name can carry shell metacharacters, '/', '..' or spaces.
/// </summary>
public static partial class Names
{
    public const int MaxLength = 15;

    [GeneratedRegex(@"^[a-z][a-z0-9_-]{0,14}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ValidName();

    public static bool IsValid(string? name) => name is not null && ValidName().IsMatch(name);

    /// <summary>Null when the name is valid, else one line that says what is wrong.</summary>
    public static string? Problem(string? name, string what)
    {
        if (string.IsNullOrEmpty(name))
        {
            return $"{what} name is empty";
        }

        if (name.Length > MaxLength)
        {
            return $"{what} name '{Printable(name)}' is longer than {MaxLength} characters";
        }

        return IsValid(name)
            ? null
            : $"{what} name '{Printable(name)}' is invalid: use lower-case letters, digits, '-' and '_', starting with a letter";
    }

    /// <summary>Keeps error messages on one printable line whatever the input held.</summary>
    public static string Printable(string value)
    {
        var clean = new string(value.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return clean.Length > 40 ? clean[..40] + "..." : clean;
    }
}
