using System.Globalization;
using CloonixActors.Domain;

namespace CloonixActors.Host;

/// <summary>Reads what this host can give VMs: memory, cores, and whether it can run d (OVS-DPDK) nics.</summary>
public static class HostFactsReader
{
    public static HostFacts Read()
    {
        long ramMb = 0;
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                ramMb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
                break;
            }
        }

        return new HostFacts(ramMb, Environment.ProcessorCount, false, "OVS-DPDK is not enabled on this host (d nics arrive with the DPDK switch); use v nics");
    }
}
