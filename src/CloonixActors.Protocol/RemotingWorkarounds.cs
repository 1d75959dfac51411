using System.Security.Cryptography;

namespace CloonixActors.Protocol;

public static class RemotingWorkarounds
{
    /// <summary>
    /// DotNetty (Akka.Remote's transport) derives a machine id from the host's MAC addresses the first
    /// time a channel opens. .NET's interface enumeration throws when an interface disappears while it
    /// reads the list, which is common on an emulator host where veths and taps come and go, and remoting
    /// then fails to bind. A machine id given in the environment skips that enumeration.
    /// Call before the first ActorSystem starts.
    /// </summary>
    public static void PinDotNettyMachineId()
    {
        const string Variable = "io.netty.machineId";
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            var bytes = RandomNumberGenerator.GetBytes(6);
            bytes[0] = (byte)((bytes[0] | 0x02) & 0xfe); // locally administered, unicast
            Environment.SetEnvironmentVariable(Variable, string.Join(':', bytes.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))));
        }
    }
}
