using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Cli;

/// <summary>What the lab-file verbs (deploy, save, destroy, graph) share: the running lab as a listing and as a file.</summary>
internal static class LabClient
{
    public static async Task<TopologyListing> ListAsync(ClusterConnection connection, TimeSpan timeout)
    {
        var reply = await connection.AskAsync(new ListTopology(), timeout).ConfigureAwait(false);
        return reply switch
        {
            TopologyListing l => l,
            CommandFailed f => throw new ClientException(f.Message, 1),
            _ => throw new ClientException($"unexpected reply {reply.GetType().Name} to a listing", 1),
        };
    }

    /// <summary>
    /// The running lab as a file. Nodes whose host does not answer are left out when the file does not name
    /// them; when it does, the verb cannot know what they hold and refuses.
    /// </summary>
    public static LabFile Current(TopologyListing listing, LabFile? file, string source)
    {
        var away = (listing.Nodes ?? []).Where(n => n.Kind is not ("cnt" or "vm")).ToList();
        if (file is not null)
        {
            var named = file.Nodes.Select(n => n.Name).Concat(file.Lans.Select(l => l.Name)).ToHashSet(StringComparer.Ordinal);
            if (away.FirstOrDefault(n => named.Contains(n.Name)) is { } unknown)
            {
                throw new ClientException($"{source}: node '{unknown.Name}' is on host '{unknown.Host}', which does not answer; nothing was changed", 1);
            }

            listing = listing with { Nodes = [.. (listing.Nodes ?? []).Except(away)] };
        }

        var (lab, problem) = LabFile.FromListing(listing);
        return lab ?? throw new ClientException(problem!, 1);
    }
}
