using System.Collections.Immutable;
using CloonixActors.Protocol;

namespace CloonixActors.Domain;

/// <summary>
/// One row of <see cref="NicKinds.All"/>: what a nic kind is called where users and listings see it.
/// </summary>
/// <param name="Letter">What a user types in --nics and a topology file (v means veth on a container, tap on a VM).</param>
/// <param name="Name">What the listing (`ls`, `ls --json`) and error texts call it.</param>
/// <param name="OnContainer">A container may have it.</param>
/// <param name="OnVm">A VM may have it.</param>
/// <param name="NeedsOvsDpdk">The host must run OVS-DPDK (<see cref="HostFacts.Dpdk"/>) for it.</param>
/// <param name="PassesRelay">Its frames pass the relay, which is what captures and impairs them.</param>
public sealed record NicKindInfo(NicKind Kind, char Letter, string Name, bool OnContainer, bool OnVm, bool NeedsOvsDpdk, bool PassesRelay)
{
    public bool AllowedOn(NodeKind node) => node == NodeKind.Vm ? OnVm : OnContainer;
}

/// <summary>
/// The nic kinds in one place: letter, name, the nodes that may have each and what the host needs for it,
/// and the one parse and format of letter lists. The client parses letters once (`add --nics`, topology
/// files) and sends kinds; <see cref="Topology"/> checks the kinds against this table. The host's side of
/// each kind is NicBinding in the host project.
/// </summary>
public static class NicKinds
{
    /// <summary>Every kind, in the order help and error texts list the letters (d, v, s).</summary>
    public static ImmutableArray<NicKindInfo> All { get; } =
    [
        new(NicKind.Veth, 'v', "veth", OnContainer: true, OnVm: false, NeedsOvsDpdk: false, PassesRelay: false),
        new(NicKind.VhostUser, 'd', "d", OnContainer: false, OnVm: true, NeedsOvsDpdk: true, PassesRelay: false),
        new(NicKind.Tap, 'v', "v", OnContainer: false, OnVm: true, NeedsOvsDpdk: false, PassesRelay: false),
        // An s nic's relay reaches the lan through a tap (decision 0007), and QEMU shares the guest's memory
        // with the relay through a memfd, no hugepages: no OVS-DPDK needed.
        new(NicKind.Spyable, 's', "s", OnContainer: true, OnVm: true, NeedsOvsDpdk: false, PassesRelay: true),
    ];

    public static NicKindInfo Of(NicKind kind) => All.FirstOrDefault(k => k.Kind == kind)
        ?? throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a nic kind");

    /// <summary>False for a number no member of the table has (a request made by hand can carry one).</summary>
    public static bool IsDefined(NicKind kind) => All.Any(k => k.Kind == kind);

    public static char Letter(NicKind kind) => Of(kind).Letter;

    public static string Name(NicKind kind) => Of(kind).Name;

    /// <summary>The kind a letter means on a node of kind <paramref name="node"/>; null when that node cannot have it.</summary>
    public static NicKind? FromLetter(char letter, NodeKind node) =>
        All.FirstOrDefault(k => k.Letter == letter && k.AllowedOn(node))?.Kind;

    /// <summary>As <see cref="FromLetter(char, NodeKind)"/>, for one entry of a list ("v"); null unless it is one allowed letter.</summary>
    public static NicKind? FromLetter(string? letter, NodeKind node) =>
        letter is { Length: 1 } ? FromLetter(letter[0], node) : null;

    /// <summary>The kind the listing names so ("veth", "d", "v", "s").</summary>
    public static NicKind? FromName(string? name) => All.FirstOrDefault(k => k.Name == name)?.Kind;

    /// <summary>
    /// A comma-separated letter list as users write it ("d, v,s"): one kind per entry, or null when an entry is
    /// not a letter a node of kind <paramref name="node"/> may have. How many nics are allowed is the caller's.
    /// </summary>
    public static ImmutableArray<NicKind>? Parse(string? letters, NodeKind node)
    {
        var kinds = ImmutableArray.CreateBuilder<NicKind>();
        foreach (var entry in (letters ?? string.Empty).Split(',', StringSplitOptions.TrimEntries))
        {
            if (FromLetter(entry, node) is not { } kind)
            {
                return null;
            }

            kinds.Add(kind);
        }

        return kinds.ToImmutable();
    }

    /// <summary>The letter list users write and <see cref="Parse"/> reads ("d,v,s").</summary>
    public static string Format(IEnumerable<NicKind> kinds) => string.Join(',', kinds.Select(Letter));

    /// <summary>
    /// The letters of an event written by an earlier release, one per nic without commas ("dvv" of a VM, "vs"
    /// of a container). A container's nics past the letters, or with a letter other than s, are veth, as
    /// those releases read them.
    /// </summary>
    public static ImmutableArray<NicKind> FromStoredLetters(string letters, NodeKind node, int count) => node == NodeKind.Container
        ? [.. Enumerable.Range(0, count).Select(i => i < letters.Length && letters[i] == 's' ? NicKind.Spyable : NicKind.Veth)]
        : [.. letters.Select(l => FromLetter(l, node) ?? throw new ArgumentOutOfRangeException(nameof(letters), letters, "nic letters of a vm are d, v and s"))];
}
