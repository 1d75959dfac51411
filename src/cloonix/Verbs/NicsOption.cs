using System.Globalization;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>
/// `add cnt|vm --nics`: the letters users type (or a container's count of veth nics) parsed once, through
/// <see cref="NicKinds"/>, into the kinds the command carries. What cannot be parsed or counts no nics, or
/// too many, is a usage error (exit 2), in the words the daemon would refuse it with.
/// </summary>
public static class NicsOption
{
    /// <summary>A container's --nics: N veth nics, or one letter per nic, v (veth) or s (spyable), e.g. v,s.</summary>
    public static NicKind[] OfContainer(string nics)
    {
        if (int.TryParse(nics, NumberStyles.Integer, CultureInfo.InvariantCulture, out var count))
        {
            return count is >= 1 and <= Topology.MaxNics
                ? [.. Enumerable.Repeat(NicKind.Veth, count)]
                : throw new ClientException(Topology.NicCountProblem(NodeKind.Container, count), 2);
        }

        return NicKinds.Parse(nics, NodeKind.Container) switch
        {
            null => throw new ClientException($"--nics '{Names.Printable(nics)}' is neither a number of nics nor a list of v (veth) and s (spyable), e.g. v,s", 2),
            { Length: > Topology.MaxNics } kinds => throw new ClientException(Topology.NicCountProblem(NodeKind.Container, kinds.Length), 2),
            var kinds => [.. kinds.Value],
        };
    }

    /// <summary>A VM's --nics: one letter per nic, d (vhost-user on OVS-DPDK), v (tap) or s (spyable), e.g. d,v,v.</summary>
    public static NicKind[] OfVm(string nics) =>
        NicKinds.Parse(nics, NodeKind.Vm) is { Length: >= 1 and <= Topology.MaxNics } kinds
            ? [.. kinds]
            : throw new ClientException($"--nics '{Names.Printable(nics)}' must list 1 to {Topology.MaxNics} nic types, each d, v or s (e.g. d,v,v)", 2);
}
