using System.CommandLine;
using CloonixActors.Protocol;

namespace CloonixActors.Cli;

/// <summary>
/// cloonix [--contact ADDR:PORT] [--state-dir DIR | --secret-file FILE] [--tls-dir DIR] [--json] VERB ...
/// Exit codes: 0 done; 1 refused or failed; 2 bad usage; 3 cloonixd unreachable; 4 no reply in time;
/// exec returns the exit code of the program it ran.
/// </summary>
public static class Program
{
    private const string DefaultStateDir = "/var/lib/cloonix";

    private static readonly Option<string> Contact = new("--contact")
    {
        Description = "ADDR:PORT of any cloonixd (env CLOONIX_CONTACT)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_CONTACT") ?? "127.0.0.1:45300",
    };

    private static readonly Option<string> StateDir = new("--state-dir")
    {
        Description = "read the secret from DIR/secret (env CLOONIX_STATE_DIR)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_STATE_DIR") ?? DefaultStateDir,
    };

    private static readonly Option<string?> SecretFile = new("--secret-file")
    {
        Description = "the cluster's secret file",
        Recursive = true,
    };

    private static readonly Option<string?> TlsDir = new("--tls-dir")
    {
        Description = "where this client's certificate (client.crt, client.key) and the cluster's authority (ca.crt) are (env CLOONIX_TLS_DIR; default STATE_DIR/tls)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CLOONIX_TLS_DIR"),
    };

    internal static readonly Option<bool> Json = new("--json") { Description = "print JSON for scripts", Recursive = true };

    private static readonly Option<int> Timeout = new("--timeout")
    {
        Description = "seconds to wait for the reply",
        Recursive = true,
        DefaultValueFactory = _ => 120,
    };

    public static async Task<int> Main(string[] args)
    {
        var root = BuildCommands();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"cloonix: {error.Message}").ConfigureAwait(false);
            }

            return 2;
        }

        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
        }
        catch (ClientException ex)
        {
            await Console.Error.WriteLineAsync($"cloonix: {ex.Message}").ConfigureAwait(false);
            return ex.ExitCode;
        }
    }

    private static RootCommand BuildCommands()
    {
        var root = new RootCommand("cloonix: drive a CloonixActors lab (nodes, lans, endpoints) on a cloonixd cluster");
        root.Options.Add(Contact);
        root.Options.Add(StateDir);
        root.Options.Add(SecretFile);
        root.Options.Add(TlsDir);
        root.Options.Add(Json);
        root.Options.Add(Timeout);

        var add = new Command("add", "add a lan or a node");
        Option<string?> HostOption(string what) => new("--host") { Description = $"the host to put the {what} on (default: {(what == "lan" ? "the hosts of its members" : "the least loaded host")})" };
        var lanHost = HostOption("lan");
        var cntHost = HostOption("container");
        var vmHost = HostOption("vm");
        var lanName = new Argument<string>("NAME") { Description = "lan name: [a-z][a-z0-9_-], 15 characters at most" };
        var addLan = new Command("lan", "add a lan (an OVS bridge on each host that has members, joined by VXLAN)") { lanName, lanHost };
        addLan.SetAction((r, _) => Run(r, new AddLan(r.GetValue(lanName)!, r.GetValue(lanHost))));
        var cntName = new Argument<string>("NAME") { Description = "node name: [a-z][a-z0-9_-], 15 characters at most" };
        var nics = new Option<string>("--nics") { Description = "number of veth nics (eth0..ethN-1), or one letter per nic: v (veth) or s (spyable), e.g. v,s", DefaultValueFactory = _ => "1" };
        var addCnt = new Command("cnt", "add a container: a network namespace with veth (or spyable) nics") { cntName, nics, cntHost };
        addCnt.SetAction((r, _) => Run(r, ContainerCommand(r.GetValue(cntName)!, r.GetValue(nics)!) with { Host = r.GetValue(cntHost) }));
        var vmName = new Argument<string>("NAME") { Description = "node name: [a-z][a-z0-9_-], 15 characters at most" };
        var vmNics = new Option<string>("--nics") { Description = "one letter per nic, comma separated: d (vhost-user on OVS-DPDK), v (tap), s (spyable)", Required = true };
        var ram = new Option<int>("--ram") { Description = "memory in MB", DefaultValueFactory = _ => 256 };
        var cpus = new Option<int>("--cpus") { Description = "virtual CPUs", DefaultValueFactory = _ => 1 };
        var image = new Option<string>("--image") { Description = "'tiny' or the absolute path of a qcow2/raw disk (each VM writes to its own overlay)", DefaultValueFactory = _ => "tiny" };
        var addVm = new Command("vm", "add a QEMU VM (replies once its guest agent answers)") { vmName, vmNics, ram, cpus, image, vmHost };
        addVm.SetAction((r, _) => Run(r, new AddVm(r.GetValue(vmName)!, r.GetValue(vmNics)!, r.GetValue(ram), r.GetValue(cpus), r.GetValue(image)!, r.GetValue(vmHost))));
        add.Subcommands.Add(addLan);
        add.Subcommands.Add(addCnt);
        add.Subcommands.Add(addVm);
        root.Subcommands.Add(add);

        var delName = new Argument<string>("NAME") { Description = "a node or a lan" };
        var force = new Option<bool>("--force") { Description = "delete a lan even while nics are attached (they are disconnected)" };
        var del = new Command("del", "delete a node or a lan") { delName, force };
        del.SetAction((r, _) => Run(r, new DeleteObject(r.GetValue(delName)!, r.GetValue(force))));
        root.Subcommands.Add(del);

        var node = new Argument<string>("NODE");
        var nic = new Argument<int>("NIC") { Description = "nic number, from 0" };
        var lan = new Argument<string>("LAN");
        var connect = new Command("connect", "connect a node's nic to a lan") { node, nic, lan };
        connect.SetAction((r, _) => Run(r, new ConnectNic(r.GetValue(node)!, r.GetValue(nic), r.GetValue(lan)!)));
        root.Subcommands.Add(connect);

        var dnode = new Argument<string>("NODE");
        var dnic = new Argument<int>("NIC");
        var disconnect = new Command("disconnect", "disconnect a node's nic from its lan") { dnode, dnic };
        disconnect.SetAction((r, _) => Run(r, new DisconnectNic(r.GetValue(dnode)!, r.GetValue(dnic))));
        root.Subcommands.Add(disconnect);

        var ls = new Command("ls", "list nodes, nics and lans");
        ls.SetAction((r, _) => Run(r, new ListTopology()));
        root.Subcommands.Add(ls);

        var status = new Command("status", "this host (Open vSwitch processes, state dir, persistence, uptime), every host of the cluster, where the coordinator runs");
        status.SetAction((r, _) => Run(r, new GetStatus()));
        root.Subcommands.Add(status);

        var purge = new Command("purge", "remove every node and lan, and everything the project created on the host");
        purge.SetAction((r, _) => Run(r, new PurgeAll()));
        root.Subcommands.Add(purge);

        var imageName = new Argument<string>("NAME") { Description = "tiny" };
        var imageBuild = new Command("build", "build a guest image on the host (takes a minute or two)") { imageName };
        imageBuild.SetAction((r, _) =>
        {
            if (r.GetValue(imageName) == "tiny")
            {
                Console.Error.WriteLine("cloonix: building image tiny on the host (downloads Debian packages; a minute or two)...");
            }

            return Run(r, new BuildImage(r.GetValue(imageName)!));
        });
        var imageCmd = new Command("image", "guest images") { imageBuild };
        root.Subcommands.Add(imageCmd);

        root.Subcommands.Add(DeployVerb.Build());
        root.Subcommands.Add(SaveVerb.Build());
        root.Subcommands.Add(DestroyVerb.Build());
        root.Subcommands.Add(GraphVerb.Build());

        var execNode = new Argument<string>("NODE");
        var argv = new Argument<string[]>("COMMAND") { Description = "program and arguments, after --", Arity = ArgumentArity.OneOrMore };
        var execTimeout = new Option<int>("--exec-timeout") { Description = "seconds before the program is killed", DefaultValueFactory = _ => 60 };
        var exec = new Command("exec", "run a program inside a node: cloonix exec NODE -- CMD ARGS...") { execNode, argv, execTimeout };
        exec.SetAction((r, _) => Run(r, new ExecInNode(r.GetValue(execNode)!, r.GetValue(argv)!, r.GetValue(execTimeout))));
        root.Subcommands.Add(exec);

        var spyNode = new Argument<string>("NODE");
        var spyNic = new Argument<int>("NIC") { Description = "an s nic's number" };
        var pcap = new Option<string?>("--pcap") { Description = "write the capture to FILE, or to standard output with - (cloonix spy vm1 0 --pcap - | wireshark -k -i -)" };
        var fifo = new Option<string?>("--fifo") { Description = "write the capture into a FIFO (made if missing) for wireshark -k -i FIFO" };
        var spySeconds = new Option<double>("--duration") { Description = "stop after this many seconds (default: until Ctrl-C)" };
        var spy = new Command("spy", "capture an s nic's traffic, both directions, as pcap, while the lab runs") { spyNode, spyNic, pcap, fifo, spySeconds };
        spy.SetAction((r, _) => Spy(r, r.GetValue(spyNode)!, r.GetValue(spyNic), r.GetValue(pcap), r.GetValue(fifo), r.GetValue(spySeconds)));
        root.Subcommands.Add(spy);

        var eventCount = new Option<int>("--count") { Description = "stop after this many events" };
        var eventSeconds = new Option<double>("--duration") { Description = "stop after this many seconds (default: until Ctrl-C)" };
        var events = new Command("events", "live traffic counters of every s nic in the cluster, about once a second") { eventCount, eventSeconds };
        events.SetAction((r, _) => Stream(r, c => Streams.EventsAsync(c, r.GetValue(eventCount), r.GetValue(eventSeconds), r.GetValue(Json), TimeoutOf(r))));
        root.Subcommands.Add(events);

        var impNode = new Argument<string>("NODE");
        var impNic = new Argument<int>("NIC") { Description = "an s nic's number" };
        var delay = new Option<double>("--delay") { Description = "added one-way delay, ms" };
        var jitter = new Option<double>("--jitter") { Description = "delay variation, ms (at most the delay; never reorders)" };
        var loss = new Option<double>("--loss") { Description = "random loss, percent" };
        var rate = new Option<double>("--rate") { Description = "rate cap, Mbit/s (0: none)" };
        var dir = new Option<string>("--dir") { Description = "in (towards the node), out (from it) or both", DefaultValueFactory = _ => "both" };
        var impair = new Command("impair", "delay, jitter, loss and rate cap on an s nic, at run time (all zero: none)") { impNode, impNic, delay, jitter, loss, rate, dir };
        impair.SetAction((r, _) => Run(r, new ImpairNic(r.GetValue(impNode)!, r.GetValue(impNic), r.GetValue(dir)!, r.GetValue(delay), r.GetValue(jitter), r.GetValue(loss), r.GetValue(rate))));
        root.Subcommands.Add(impair);

        var faultNode = new Argument<string>("NODE");
        var faultNic = new Argument<int>("NIC");
        var failRelay = new Command("fail-relay", "make an s nic's relay thread fail (needs cloonix.fault-injection = on)") { faultNode, faultNic };
        failRelay.SetAction((r, _) => Run(r, new InjectRelayFault(r.GetValue(faultNode)!, r.GetValue(faultNic))));
        var debug = new Command("debug", "fault injection for tests") { failRelay };
        debug.Hidden = true;
        root.Subcommands.Add(debug);
        root.Subcommands.Add(CertCommands.Build(TlsDirOf, Json));
        root.Subcommands.Add(RttCommand.Build(r => ClusterConnection.OpenAsync(r.GetValue(Contact)!, ReadSecret(r.GetValue(SecretFile), r.GetValue(StateDir)!), TlsDirOf(r))));
        return root;
    }

    /// <summary>--nics N (veth nics) or a letter list such as v,s.</summary>
    private static AddContainer ContainerCommand(string name, string nics)
    {
        if (int.TryParse(nics, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var count))
        {
            return new AddContainer(name, count);
        }

        return CloonixActors.Domain.NicKinds.Parse(nics, CloonixActors.Domain.NodeKind.Container) is { } kinds
            ? new AddContainer(name, kinds.Length, NicTypes: nics)
            : throw new ClientException($"--nics '{nics}' is neither a number of nics nor a list of v (veth) and s (spyable), e.g. v,s", 2);
    }

    internal static TimeSpan TimeoutOf(ParseResult r) => TimeSpan.FromSeconds(Math.Max(1, r.GetValue(Timeout)));

    private static Task<int> Spy(ParseResult r, string node, int nic, string? pcap, string? fifo, double seconds)
    {
        if ((pcap is null) == (fifo is null))
        {
            throw new ClientException("spy needs one of --pcap FILE, --pcap - or --fifo PATH", 2);
        }

        Func<Stream> open = fifo is not null ? () => Streams.OpenFifo(fifo)
            : pcap == "-" ? Console.OpenStandardOutput
            : () => File.Create(pcap!);
        return Stream(r, c => Streams.CaptureAsync(c, node, nic, open, seconds, r.GetValue(Json), TimeoutOf(r)));
    }

    internal static async Task<int> Stream(ParseResult r, Func<ClusterConnection, Task<int>> run)
    {
        var secret = ReadSecret(r.GetValue(SecretFile), r.GetValue(StateDir)!);
        await using var connection = await ClusterConnection.OpenAsync(r.GetValue(Contact)!, secret, TlsDirOf(r)).ConfigureAwait(false);
        return await run(connection).ConfigureAwait(false);
    }

    private static async Task<int> Run(ParseResult r, IClientCommand command)
    {
        var secret = ReadSecret(r.GetValue(SecretFile), r.GetValue(StateDir)!);
        var timeout = TimeoutOf(r);
        if (command is BuildImage && r.GetResult(Timeout) is null)
        {
            timeout = TimeSpan.FromMinutes(15);
        }

        if (command is ExecInNode e && timeout <= TimeSpan.FromSeconds(e.TimeoutSeconds))
        {
            timeout = TimeSpan.FromSeconds(e.TimeoutSeconds + 10);
        }

        await using var connection = await ClusterConnection.OpenAsync(r.GetValue(Contact)!, secret, TlsDirOf(r)).ConfigureAwait(false);
        var reply = await connection.AskAsync(command, timeout).ConfigureAwait(false);
        return Output.Print(reply, r.GetValue(Json));
    }

    private static string TlsDirOf(ParseResult r) => r.GetValue(TlsDir) ?? Path.Combine(r.GetValue(StateDir)!, "tls");

    private static string ReadSecret(string? secretFile, string stateDir)
    {
        var path = secretFile ?? Path.Combine(stateDir, "secret");
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ClientException($"cannot read the secret file {path}: {ex.Message} (use --state-dir or --secret-file)", 2);
        }
    }
}
