namespace CloonixActors.DataPlane.Qemu;

public enum AccelKind
{
    Tcg,
    Kvm,
}

/// <summary>KVM where it really works, else TCG; <see cref="Why"/> says which and why, for `status`.</summary>
public sealed record Acceleration(AccelKind Kind, string Why)
{
    /// <summary>
    /// /dev/kvm alone is not enough: on hosts without the vmx/svm CPU flag a KVM guest hangs at
    /// "Booting from ROM". Both must be there.
    /// </summary>
    public static Acceleration Probe()
    {
        if (!File.Exists("/dev/kvm"))
        {
            return new(AccelKind.Tcg, "TCG: /dev/kvm is absent");
        }

        string flags;
        try
        {
            flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? string.Empty;
        }
        catch (IOException)
        {
            flags = string.Empty;
        }

        var words = flags.Split([' ', '\t', ':'], StringSplitOptions.RemoveEmptyEntries);
        return words.Contains("vmx") || words.Contains("svm")
            ? new(AccelKind.Kvm, "KVM: /dev/kvm and the vmx/svm CPU flag are present")
            : new(AccelKind.Tcg, "TCG: /dev/kvm exists but the CPU has no vmx/svm flag (KVM guests would hang)");
    }
}
