using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Akka.Actor;
using CloonixActors.Cli;
using CloonixActors.Host.Security;
using CloonixActors.Protocol;
using Xunit.Abstractions;

namespace CloonixActors.IntegrationTests;

/// <summary>
/// 1,000 random requests from a client of the cluster to a real cloonixd: every command with hostile field
/// values (long strings, NUL, shell metacharacters, "..", nulls, negative and huge numbers, NaN), wrong
/// secrets, a few valid requests whose effect is known, and raw frames that are garbage or cut short.
/// Afterwards the daemon is up, every request got a reply (a clear error for the bad ones), and the lab
/// (listing, namespaces, bridges and their ports, the daemon's child processes) changed only by the valid
/// requests.
/// </summary>
[Collection("dataplane")]
public sealed class RequestFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly Lab _lab = new Lab().Start();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Random_client_requests_get_replies_and_change_only_what_the_valid_ones_asked()
    {
        // CLOONIX_FUZZ_SEED repeats a run; the seed is printed either way (and named in every failure).
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CLOONIX_FUZZ_SEED"), out var s) ? s : Random.Shared.Next();
        var count = int.TryParse(Environment.GetEnvironmentVariable("CLOONIX_FUZZ_REQUESTS"), out var n) ? n : 1000;
        output.WriteLine($"request fuzz: seed {seed}, {count} requests (CLOONIX_FUZZ_SEED={seed} repeats it)");
        Console.Error.WriteLine($"request fuzz: seed {seed}");
        _lab.TwoContainersOnLan();
        _lab.Ok("add", "cnt", "c3", "--nics", "v,s");
        _lab.Ok("connect", "c3", "1", "lan1");
        var before = Snapshot();
        var secret = File.ReadAllText(Path.Combine(_lab.StateDir, "secret")).Trim();
        var random = new Random(seed);
        var generator = new RequestGenerator(random, secret);
        var tally = new Dictionary<string, int>();
        var validLans = new List<string>();

        await using (var connection = await ClusterConnection.OpenAsync(_lab.Endpoint, secret, _lab.TlsDir))
        {
            for (var i = 0; i < count; i++)
            {
                var (request, expect) = generator.Next();
                if (expect == Expect.Success && request.Command is AddLan { Name: var lan })
                {
                    validLans.Add(lan);
                }

                IClientReply reply;
                try
                {
                    reply = await connection.AskRawAsync(request, TimeSpan.FromSeconds(30));
                }
                catch (ClientException e)
                {
                    Assert.Fail($"request {i} of seed {seed} ({Describe(request)}) got no reply: {e.Message}");
                    throw;
                }

                Check(i, seed, request, expect, reply);
                var key = $"{request.Command?.GetType().Name ?? "null"} -> {reply.GetType().Name}";
                tally[key] = tally.GetValueOrDefault(key) + 1;

                if (i % 100 == 99)
                {
                    // Raw frames, garbage or cut short, straight onto the remoting port between requests.
                    await SendRawFrames(random);
                }
            }
        }

        output.WriteLine(string.Join('\n', tally.OrderBy(kv => kv.Key).Select(kv => $"{kv.Value,5} {kv.Key}")));
        Assert.True(validLans.Count > 0, "the run sent no valid request");

        var after = Snapshot();
        Assert.Equal(0, _lab.Cli("status").ExitCode);
        Assert.True(Lab.IsRunning(_lab.DaemonPid), "cloonixd died");
        // The listing is the one before plus exactly the lans the valid requests added.
        Assert.Equal(before.Nodes, after.Nodes);
        Assert.Equal(before.Lans.Keys.Concat(validLans).Order(StringComparer.Ordinal), after.Lans.Keys.Order(StringComparer.Ordinal));
        foreach (var (lan, json) in before.Lans)
        {
            Assert.Equal(json, after.Lans[lan]);
        }

        Assert.Equal(before.Namespaces, after.Namespaces);
        Assert.Equal(before.Processes, after.Processes);
        var newBridges = validLans.Select(l => after.Lans[l]).Select(j => JsonDocument.Parse(j).RootElement.GetProperty("bridge").GetString()).ToHashSet();
        Assert.Equal(before.Ports, after.Ports.Where(kv => !newBridges.Contains(kv.Key)).ToDictionary());
        Assert.True(_lab.Ping("c1", "198.18.0.2"), "the lab stopped passing traffic");
    }

    private static void Check(int i, int seed, ClientRequest request, Expect expect, IClientReply reply)
    {
        var what = $"request {i} of seed {seed} ({Describe(request)}) answered {reply}";
        switch (expect)
        {
            case Expect.Unauthorized:
                Assert.True(reply is CommandFailed { Code: ErrorCode.Unauthorized }, what);
                break;
            case Expect.Failure:
                Assert.True(reply is CommandFailed { Message.Length: > 0 and < 2000 }, what);
                var message = ((CommandFailed)reply).Message;
                Assert.True(!message.Contains("   at ", StringComparison.Ordinal) && !message.Contains('\0'), what);
                break;
            case Expect.Success:
                Assert.True(reply is CommandSucceeded or TopologyListing or StatusReport, what);
                break;
        }
    }

    private static string Describe(ClientRequest request)
    {
        var text = request.Command?.ToString() ?? "null command";
        return text.Length > 300 ? text[..300] + "..." : text;
    }

    /// <summary>Length-prefixed frames of random bytes, frames that promise more than they carry, and bare garbage.</summary>
    private async Task SendRawFrames(Random random)
    {
        for (var k = 0; k < 3; k++)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(_lab.Address, _lab.Port);
            var stream = await RawTransport.OpenAsync(tcp, _lab);
            var body = new byte[random.Next(1, 4096)];
            random.NextBytes(body);
            var declared = k switch
            {
                0 => body.Length,
                1 => body.Length + random.Next(1, 100_000),
                _ => random.Next(),
            };
            var frame = new byte[4 + body.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame, declared);
            body.CopyTo(frame, 4);
            try
            {
                await stream.WriteAsync(frame);
                await stream.FlushAsync();
            }
            catch (IOException)
            {
                // The daemon closed the connection on the garbage: what it should do.
            }

            await stream.DisposeAsync();
        }
    }

    private LabState Snapshot()
    {
        using var ls = _lab.Json("ls");
        var nodes = ls.RootElement.GetProperty("nodes").EnumerateArray().Select(e => e.GetRawText()).Order(StringComparer.Ordinal).ToList();
        var lans = ls.RootElement.GetProperty("lans").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetRawText());
        var ports = _lab.Vsctl("list-br").ToDictionary(b => b, b => string.Join(',', _lab.Vsctl("list-ports", b).Order(StringComparer.Ordinal)));
        return new LabState(nodes, new SortedDictionary<string, string>(lans, StringComparer.Ordinal), [.. _lab.Namespaces().Order(StringComparer.Ordinal)], ports, ChildProcesses(_lab.DaemonPid));
    }

    /// <summary>The names of every process below the daemon (Open vSwitch, QEMU, container processes).</summary>
    private static List<string> ChildProcesses(int root)
    {
        var parents = new Dictionary<int, (int Parent, string Name)>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var name = stat[(stat.IndexOf('(') + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                parents[pid] = (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), name);
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }

        var below = new List<string>();
        foreach (var (pid, (_, name)) in parents)
        {
            for (var p = pid; parents.TryGetValue(p, out var entry) && p > 1; p = entry.Parent)
            {
                if (entry.Parent == root)
                {
                    below.Add(name);
                    break;
                }
            }
        }

        return [.. below.Order(StringComparer.Ordinal)];
    }

    private sealed record LabState(
        List<string> Nodes,
        SortedDictionary<string, string> Lans,
        List<string> Namespaces,
        Dictionary<string, string> Ports,
        List<string> Processes);
}

/// <summary>What a request must get back.</summary>
public enum Expect
{
    Failure,
    Unauthorized,
    Success,
}

/// <summary>
/// Random requests. Every request meant to fail carries at least one field that no valid request has, so
/// whatever the other fields hold, it must be refused; the valid ones are reads and lans with fresh names.
/// </summary>
public sealed class RequestGenerator(Random random, string secret)
{
    private static readonly string[] BadNames =
    [
        "", " ", "A", "Upper", "1abc", "-a", "_a", "a b", "a;reboot", "$(id)", "`id`", "a|b", "a&b", "../etc", "..", "a/b",
        "/etc/passwd", "a\0b", "\0", "lan1\n", "c1 ", " c1", "é", "\u202Eevil", "a\u0000", "--help", "-rf", "averyveryverylongname",
        new string('a', 16), new string('x', 10_000), "a\tb", "a'b", "a\"b", "a*", "a?", "c1;rm -rf /", "%s%n", "{0}",
    ];

    private static readonly string[] ExistingNames = ["c1", "c2", "c3", "lan1"];

    private static readonly int[] BadNicIndexes = [-1, -100, int.MinValue, 32, 99_999, int.MaxValue];
    // A count of veth nics: none, or too many (a list of a negative length cannot be sent).
    private static readonly int[] BadCounts = [0, 33, 1000, 100_000];
    private static readonly double[] BadDoubles = [double.NaN, -1, -0.5, double.PositiveInfinity, double.NegativeInfinity, 1e308, -1e308];
    private static readonly string?[] BadDirections = [null, "", "sideways", "IN", "in;out", "\0", new string('i', 5000)];
    private static readonly string?[] BadImages = [null, "", "relative.qcow2", "../../etc/passwd", "/no/such/disk", "/dev/zero", "/dev/null", "tiny\0", "/", "/proc/self/mem"];
    // Refused whatever the node kind: no list, no nics, more than 32, or a number that is no nic kind.
    private static readonly NicKind[]?[] ClearlyBadNicLists =
        [null, [], [.. Enumerable.Repeat(NicKind.Spyable, 33)], [.. Enumerable.Repeat(NicKind.Spyable, 5000)], [(NicKind)4], [NicKind.Spyable, (NicKind)(-1)], [(NicKind)int.MaxValue, (NicKind)int.MinValue]];

    // Kinds of the other node kind: a container has no vhost-user or tap nics, a VM no veth nics.
    private static readonly NicKind[]?[] BadContainerNics = [.. ClearlyBadNicLists, [NicKind.VhostUser], [NicKind.Veth, NicKind.Tap]];
    private static readonly NicKind[]?[] BadVmNics = [.. ClearlyBadNicLists, [NicKind.Veth], [NicKind.Tap, NicKind.Veth]];
    private static readonly string?[] BadImageNames = [null, "", "huge", "tiny2", "../tiny", "TINY", "tiny;id", "\0"];

    private int _lans;

    public (ClientRequest Request, Expect Expect) Next()
    {
        var roll = random.Next(100);
        if (roll < 15)
        {
            // A wrong secret with any command at all, even a valid and destructive one: refused.
            var command = random.Next(3) == 0 ? new PurgeAll() : Invalid();
            return (new ClientRequest(WrongSecret(), command), Expect.Unauthorized);
        }

        if (roll < 20)
        {
            return (new ClientRequest(secret, random.Next(2) == 0 ? new ListTopology() : new GetStatus()), Expect.Success);
        }

        if (roll < 22)
        {
            return (new ClientRequest(secret, new AddLan($"fz{_lans++}")), Expect.Success);
        }

        if (roll < 24)
        {
            return (new ClientRequest(secret, null!), Expect.Failure);
        }

        return (new ClientRequest(secret, Invalid()), Expect.Failure);
    }

    private string WrongSecret() => random.Next(5) switch
    {
        0 => "",
        1 => secret[..^1] + (secret[^1] == 'a' ? 'b' : 'a'),
        2 => secret + "x",
        3 => null!,
        _ => Garbage(random.Next(0, 200)),
    };

    private IClientCommand Invalid()
    {
        switch (random.Next(14))
        {
            case 0:
                return new AddLan(BadName(), MaybeHost());
            case 1:
                return random.Next(3) switch
                {
                    0 => new AddContainer(BadName(), AnyContainerNics(), MaybeHost()),
                    1 => new AddContainer(FreshName(), Pick(BadCounts), MaybeHost()),
                    _ => new AddContainer(FreshName(), Pick(BadContainerNics)!, MaybeHost()),
                };
            case 2:
                return random.Next(6) switch
                {
                    0 => new AddVm(BadName(), [NicKind.Tap], 128, 1, "tiny"),
                    1 => new AddVm(FreshName(), Pick(BadVmNics)!, 128, 1, "tiny"),
                    2 => new AddVm(FreshName(), [NicKind.Tap], Pick([-1, 16, int.MinValue, int.MaxValue]), 1, "tiny"),
                    3 => new AddVm(FreshName(), [NicKind.Tap], 128, Pick([-1, 999, int.MinValue, int.MaxValue]), "tiny"),
                    4 => new AddVm(FreshName(), [NicKind.Tap], 128, 1, Pick(BadImages)!),
                    _ => new AddVm(FreshName(), [NicKind.Tap], 128, 1, "tiny", BadName()),
                };
            case 3:
                return new DeleteObject(random.Next(4) == 0 ? FreshName() : BadName(), random.Next(2) == 0);
            case 4:
                return random.Next(4) switch
                {
                    0 => new ConnectNic(BadName(), AnyIndex(), AnyName()),
                    1 => new ConnectNic(Pick(ExistingNames), Pick(BadNicIndexes), "lan1"),
                    2 => new ConnectNic("c1", 0, BadName()),
                    _ => new ConnectNic("c1", 0, "lan1"), // already connected
                };
            case 5:
                return random.Next(2) == 0 ? new DisconnectNic(BadName(), AnyIndex()) : new DisconnectNic(Pick(ExistingNames), Pick(BadNicIndexes));
            case 6:
                return random.Next(7) switch
                {
                    0 => new DeployTopology(null!, null!, null!),
                    5 => new DeployTopology(["fzd"], [new ContainerSpec("fzc", Pick(BadContainerNics)!)], []),
                    6 => new DeployTopology(["fzd"], [], [], Vms: [new VmNodeSpec("fzv", Pick(BadVmNics)!, 128, 1, "tiny")]),
                    1 => new DeployTopology([BadName()], [], []),
                    2 => new DeployTopology(["fzd"], [new ContainerSpec(BadName(), 1)], []),
                    3 => new DeployTopology(["fzd"], [new ContainerSpec("fzc", Pick(BadCounts))], [new EndpointSpec("fzc", 0, "fzd")]),
                    _ => new DeployTopology(["fzd"], [new ContainerSpec("fzc", 1)], [new EndpointSpec("fzc", Pick(BadNicIndexes), "fzd"), null!]),
                };
            case 7:
                return new BuildImage(Pick(BadImageNames)!);
            case 8:
                return random.Next(3) switch
                {
                    0 => new ExecInNode(BadName(), RandomArgv(), random.Next(-5, 100)),
                    1 => new ExecInNode("lan1", RandomArgv(), 5),
                    _ => new ExecInNode(FreshName(), null!, 5),
                };
            case 9:
                return new StartCapture(random.Next(2) == 0 ? BadName() : Pick(ExistingNames[..2]), random.Next(2) == 0 ? Pick(BadNicIndexes) : 0, ActorRefs.Nobody);
            case 10:
                return new SubscribeEvents(random.Next(2) == 0 ? null! : ActorRefs.Nobody);
            case 11:
                return random.Next(5) switch
                {
                    0 => new ImpairNic(BadName(), 1, ImpairDirections.Both, 10, 0, 0, 0),
                    1 => new ImpairNic("c3", Pick(BadNicIndexes), ImpairDirections.Both, 10, 0, 0, 0),
                    2 => new ImpairNic("c3", 1, Pick(BadDirections)!, 10, 0, 0, 0),
                    3 => new ImpairNic("c3", 1, ImpairDirections.Both, Pick(BadDoubles), AnyDouble(), AnyDouble(), AnyDouble()),
                    _ => new ImpairNic("c3", 1, ImpairDirections.Both, AnyDouble(), AnyDouble(), Pick([double.NaN, -1, 100.5, 1e9]), AnyDouble()),
                };
            case 12:
                // Fault injection is off on this daemon: refused whatever it names.
                return new InjectRelayFault(random.Next(2) == 0 ? "c3" : BadName(), random.Next(2) == 0 ? 1 : Pick(BadNicIndexes));
            default:
                // A v nic is not spyable, and a container's nic 0 here is v: refused.
                return new ImpairNic("c1", 0, ImpairDirections.In, 5, 0, 0, 0);
        }
    }

    // Garbage starts with a character no name may start with, so it is never a valid name by chance.
    private string BadName() => random.Next(4) == 0 ? Pick(["X", "1", "-", " ", "\0", "é"]) + Garbage(random.Next(0, 64)) : Pick(BadNames);

    private string AnyName() => random.Next(2) == 0 ? Pick(ExistingNames) : BadName();

    private string FreshName() => $"fzn{random.Next(1000)}";

    private string? MaybeHost() => random.Next(3) == 0 ? BadName() : null;


    private int AnyIndex() => random.Next(2) == 0 ? random.Next(0, 3) : Pick(BadNicIndexes);

    private double AnyDouble() => random.Next(2) == 0 ? random.Next(0, 50) : Pick(BadDoubles);

    private NicKind[] AnyContainerNics() => random.Next(2) == 0 ? [.. Enumerable.Repeat(NicKind.Veth, random.Next(1, 4))] : Pick(BadContainerNics)!;

    private string[] RandomArgv() => [.. Enumerable.Range(0, random.Next(0, 5)).Select(_ => random.Next(3) == 0 ? Garbage(random.Next(0, 100)) : Pick(["sh", "-c", "id", "rm", "-rf", "/", "touch", "/tmp/fuzz-was-here"]))];

    private T Pick<T>(T[] items) => items[random.Next(items.Length)];

    private string Garbage(int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = (char)random.Next(0, 0x3000);
        }

        return new string(chars);
    }
}

/// <summary>
/// The remoting port as a client with the cluster's credentials reaches it, below Akka's framing: mutual TLS
/// with the lab's client certificate, then whatever bytes the test writes.
/// </summary>
internal static class RawTransport
{
    public static async Task<Stream> OpenAsync(TcpClient tcp, Lab lab)
    {
        var identity = ClusterCertificates.Load(lab.TlsDir, ClusterCertificates.ClientRole);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) =>
            certificate is not null && ClusterCertificates.Validate(new X509Certificate2(certificate), identity.Authorities) is null);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = lab.Address,
            ClientCertificates = [identity.Certificate],
        });
        return tls;
    }
}
