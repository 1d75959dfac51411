using System.Runtime.InteropServices;

namespace CloonixActors.DataPlane.Qemu;

/// <summary>
/// What a VM's <c>--image</c> may be: a regular file (through symlinks). A device, a FIFO, a socket or a
/// directory would be handed to qemu-img and QEMU as a disk: opening a FIFO blocks the launch, a
/// device gives the guest (or the overlay's backing chain) a host device.
/// </summary>
public static partial class ImageFile
{
    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, byte[] buffer);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint RealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    /// <summary>Where the kernel's own files live: they pass for regular files, but no disk is there.</summary>
    private static readonly string[] KernelFileSystems = ["/proc/", "/sys/", "/dev/"];

    /// <summary>Null when <paramref name="path"/> is a regular file; else one line saying what it is.</summary>
    public static string? Problem(string path)
    {
        var printable = CloonixActors.Domain.Names.Printable(path);
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            return $"image {printable} does not exist";
        }

        var type = FileType(path);
        if (type != 0x8000)
        {
            return type is null ? $"image {printable} cannot be examined" : $"image {printable} is {Describe(type.Value)}, not a regular file";
        }

        // /proc/self/mem and /sys attributes are "regular files" to stat(2); every link on the way resolved.
        var real = Resolve(path);
        if (real is null || KernelFileSystems.Any(k => real.StartsWith(k, StringComparison.Ordinal)))
        {
            return $"image {printable} is a file of the kernel's (/proc, /sys or /dev), not a disk";
        }

        return new FileInfo(real).Length == 0 ? $"image {printable} is empty, not a disk" : null;
    }

    /// <summary>The path with every symlink resolved (realpath(3)), or null when that fails.</summary>
    private static string? Resolve(string path)
    {
        var resolved = RealPath(path, 0);
        if (resolved == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>
    /// st_mode's file type bits of <paramref name="path"/>, symlinks followed (stat(2)); st_mode is at byte
    /// 24 of struct stat on x86-64 and at byte 16 on arm64 (the generic layout).
    /// </summary>
    private static uint? FileType(string path)
    {
        var offset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        var buffer = new byte[256];
        if (offset < 0 || Stat(path, buffer) != 0)
        {
            return null;
        }

        return BitConverter.ToUInt32(buffer, offset) & 0xF000;
    }

    private static string Describe(uint type) => type switch
    {
        0x4000 => "a directory",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0x1000 => "a FIFO",
        0xC000 => "a socket",
        _ => "a special file",
    };
}
