using System.CommandLine;
using CloonixActors.Domain;
using CloonixActors.Protocol;

namespace CloonixActors.Cli.Verbs;

/// <summary>cloonix add lan|cnt|vm NAME ...: a lan, a container or a QEMU VM, on a host the cluster picks or --host.</summary>
internal static class AddVerb
{
    public static Command Create() => new("add", "add a lan or a node") { Lan(), Container(), Vm() };

    private static Command Lan()
    {
        var name = new Argument<string>("NAME") { Description = "lan name: [a-z][a-z0-9_-], 15 characters at most" };
        var host = HostOption("lan");
        var lan = new Command("lan", "add a lan (an OVS bridge on each host that has members, joined by VXLAN)") { name, host };
        lan.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new AddLan(r.GetValue(name)!, r.GetValue(host))));
        return lan;
    }

    private static Command Container()
    {
        var name = new Argument<string>("NAME") { Description = "node name: [a-z][a-z0-9_-], 15 characters at most" };
        var nics = new Option<string>("--nics") { Description = "number of veth nics (eth0..ethN-1), or one letter per nic: v (veth) or s (spyable), e.g. v,s", DefaultValueFactory = _ => "1" };
        var host = HostOption("container");
        var cnt = new Command("cnt", "add a container: a network namespace with veth (or spyable) nics") { name, nics, host };
        cnt.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new AddContainer(r.GetValue(name)!, NicsOption.OfContainer(r.GetValue(nics)!), r.GetValue(host))));
        return cnt;
    }

    private static Command Vm()
    {
        var name = new Argument<string>("NAME") { Description = "node name: [a-z][a-z0-9_-], 15 characters at most" };
        var nics = new Option<string>("--nics") { Description = "one letter per nic, comma separated: d (vhost-user on OVS-DPDK), v (tap), s (spyable)", Required = true };
        var ram = new Option<int>("--ram") { Description = "memory in MB", DefaultValueFactory = _ => 256 };
        var cpus = new Option<int>("--cpus") { Description = "virtual CPUs", DefaultValueFactory = _ => 1 };
        var image = new Option<string>("--image") { Description = "'tiny' or the absolute path of a qcow2/raw disk (each VM writes to its own overlay)", DefaultValueFactory = _ => "tiny" };
        var host = HostOption("vm");
        var vm = new Command("vm", "add a QEMU VM (replies once its guest agent answers)") { name, nics, ram, cpus, image, host };
        vm.SetAction((r, _) => VerbActions.AskAndPrintAsync(r, new AddVm(r.GetValue(name)!, NicsOption.OfVm(r.GetValue(nics)!), r.GetValue(ram), r.GetValue(cpus), r.GetValue(image)!, r.GetValue(host))));
        return vm;
    }

    private static Option<string?> HostOption(string what) =>
        new("--host") { Description = $"the host to put the {what} on (default: {(what == "lan" ? "the hosts of its members" : "the least loaded host")})" };
}
