namespace CloonixActors.Protocol;

public interface IClientReply : ICloonixMessage;

public enum ErrorCode
{
    InvalidArgument = 1,
    NotFound = 2,
    AlreadyExists = 3,
    Conflict = 4,
    Unauthorized = 5,
    DataPlane = 6,
    Unavailable = 7,
}

/// <summary>The command was applied. <paramref name="Message"/> is one line for people.</summary>
public sealed record CommandSucceeded(string Message) : IClientReply;

/// <summary>The command was refused or failed; nothing was changed unless the message says so.</summary>
public sealed record CommandFailed(ErrorCode Code, string Message) : IClientReply;

public sealed record ExecResult(int ExitCode, string Stdout, string Stderr, bool TimedOut) : IClientReply;

/// <summary>One lan segment: the lan's bridge on one host. <paramref name="Vni"/> is 0 while the lan spans no other host; <paramref name="Mtu"/> is what its nics carry.</summary>
public sealed record LanView(string Name, string Host, string Bridge, string[] Members, int Vni = 0, int Mtu = 1500) : ICloonixMessage;

/// <summary>
/// One nic in a listing; <paramref name="Impairment"/> describes an s nic's impairment for people, null
/// when none; <paramref name="ImpairIn"/> and <paramref name="ImpairOut"/> hold its figures per direction
/// (null when none), for `cloonix save`.
/// </summary>
public sealed record NicView(int Index, string Kind, string? Lan, string HostInterface, string? Impairment = null, ImpairmentView? ImpairIn = null, ImpairmentView? ImpairOut = null) : ICloonixMessage;

/// <summary>One direction's impairment: delay and jitter in ms, loss in percent, rate in Mbit/s (0 = no cap).</summary>
public sealed record ImpairmentView(double DelayMs, double JitterMs, double LossPercent, double RateMbit) : ICloonixMessage;

/// <summary>A node in a listing; a VM also shows its memory (MB), CPUs and image (0, 0 and null for a container).</summary>
public sealed record NodeView(string Name, string Kind, string Host, string Namespace, NicView[] Nics, int RamMb = 0, int Cpus = 0, string? Image = null) : ICloonixMessage;

public sealed record TopologyListing(NodeView[] Nodes, LanView[] Lans) : IClientReply;

public sealed record ProcessView(string Name, int Pid, int Restarts) : ICloonixMessage;

public sealed record MemberView(string Address, string Status, string[] Roles) : ICloonixMessage;

public sealed record StatusReport(
    string HostName,
    string StateDir,
    string Persistence,
    TimeSpan Uptime,
    string Datapath,
    ProcessView[] Processes,
    MemberView[] Members,
    int Nodes,
    int Lans,
    int Endpoints,
    string Acceleration,
    string Coordinator = "",
    HostView[]? Hosts = null,
    string Journal = "",
    string CoordinatorJournal = "") : IClientReply;
