using System.Runtime.InteropServices;

namespace CloonixActors.DataPlane.Qemu;

public enum AccelKind
{
    Tcg,
    Kvm,
}

/// <summary>KVM where it really works, else TCG; <see cref="Why"/> says which and why, for `status`.</summary>
public sealed partial record Acceleration(AccelKind Kind, string Why)
{
    private const ulong KvmGetApiVersion = 0xAE00;
    private const ulong KvmCreateVm = 0xAE01;
    private const int KvmApiVersion = 12;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, ulong request, nint arg);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>The short probe: the KVM API answers and a VM can be created (what QEMU will do first).</summary>
    private static string? KvmProbeFailure()
    {
        const int ReadWriteCloseOnExec = 2 | 0x80000;
        var kvm = Open("/dev/kvm", ReadWriteCloseOnExec);
        if (kvm < 0)
        {
            return $"cannot open /dev/kvm (errno {Marshal.GetLastPInvokeError()})";
        }

        try
        {
            if (Ioctl(kvm, KvmGetApiVersion, 0) != KvmApiVersion)
            {
                return "the KVM API version is not 12";
            }

            var vm = Ioctl(kvm, KvmCreateVm, 0);
            if (vm < 0)
            {
                return $"KVM cannot create a VM (errno {Marshal.GetLastPInvokeError()})";
            }

            Close(vm);
            return null;
        }
        finally
        {
            Close(kvm);
        }
    }

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
        if (!words.Contains("vmx") && !words.Contains("svm"))
        {
            return new(AccelKind.Tcg, "TCG: /dev/kvm exists but the CPU has no vmx/svm flag (KVM guests would hang)");
        }

        return KvmProbeFailure() is { } failure
            ? new(AccelKind.Tcg, $"TCG: the CPU has vmx/svm but {failure}")
            : new(AccelKind.Kvm, "KVM: the vmx/svm CPU flag is present and /dev/kvm creates VMs");
    }
}
