namespace CloonixActors.DataPlane;

/// <summary>Where a daemon's private Open vSwitch keeps its database, sockets, pid files and logs.</summary>
public sealed class OvsPaths
{
    public OvsPaths(string stateDir, string hostName)
    {
        SwitchNamespace = CloonixActors.Domain.OsNames.SwitchNamespace(hostName);
        Dir = Path.Combine(Path.GetFullPath(stateDir), "ovs");
        Environment = new Dictionary<string, string>
        {
            // Keep every default path of the OVS tools inside our directory, never the system's.
            ["OVS_RUNDIR"] = Dir,
            ["OVS_LOGDIR"] = Dir,
            ["OVS_DBDIR"] = Dir,
            ["OVS_SYSCONFDIR"] = Dir,
        };
    }

    public string Dir { get; }

    /// <summary>
    /// ovs-vswitchd runs in a network namespace of its own: the userspace datapath makes an
    /// "ovs-netdev" tap and one tap per bridge in the namespace it runs in, and two such switches
    /// (another cloonixd, Mininet) cannot share one. The lan ports, the host ends of container veths,
    /// live there too, so the root namespace stays clean.
    /// </summary>
    public string SwitchNamespace { get; }

    public string DbFile => Path.Combine(Dir, "conf.db");

    public string DbSocket => Path.Combine(Dir, "db.sock");

    public string DbPidFile => Path.Combine(Dir, "ovsdb-server.pid");

    public string DbLog => Path.Combine(Dir, "ovsdb-server.log");

    public string SwitchPidFile => Path.Combine(Dir, "ovs-vswitchd.pid");

    public string SwitchLog => Path.Combine(Dir, "ovs-vswitchd.log");

    public IReadOnlyDictionary<string, string> Environment { get; }

    public const string Schema = "/usr/share/openvswitch/vswitch.ovsschema";
}
