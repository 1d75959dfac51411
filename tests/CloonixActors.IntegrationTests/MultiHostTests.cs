using System.Text.Json;

namespace CloonixActors.IntegrationTests;

/// <summary>Several cloonixd hosts in namespaces on one machine form one Akka cluster.</summary>
[Collection("dataplane")]
public sealed class MultiHostTests
{
    [Fact]
    public void Three_hosts_joined_by_seeds_form_one_cluster_that_every_host_reports()
    {
        const int Port = 45300;
        using var hosts = new TestHosts(3, (i, ns, address) =>
        {
            var lab = new Lab(daemonArgs: ["--seed", $"198.18.100.1:{Port}", "--seed", $"198.18.100.2:{Port}"], hostNamespace: ns, address: address, port: Port);
            return lab.Start();
        });

        foreach (var lab in hosts.Labs)
        {
            Lab.WaitUntil(() => UpMembers(lab) == 3, TimeSpan.FromSeconds(60), $"{lab.Address} to see three members up");
        }

        using var status = hosts.Labs[2].Json("status");
        var addresses = status.RootElement.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("address").GetString()).Order().ToList();
        Assert.Equal([.. Enumerable.Range(1, 3).Select(i => $"akka.tcp://cloonix@198.18.100.{i}:{Port}")], addresses);
        Assert.All(status.RootElement.GetProperty("members").EnumerateArray(), m => Assert.Contains("host", m.GetProperty("roles").EnumerateArray().Select(r => r.GetString())));
    }

    private static int UpMembers(Lab lab)
    {
        var r = lab.Cli("status", "--json");
        if (r.ExitCode != 0)
        {
            return 0;
        }

        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
    }
}
