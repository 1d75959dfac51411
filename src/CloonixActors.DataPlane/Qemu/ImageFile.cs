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

    /// <summary>Null when <paramref name="path"/> is a regular file; else one line saying what it is.</summary>
    public static string? Problem(string path)
    {
        var printable = CloonixActors.Domain.Names.Printable(path);
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            return $"image {printable} does not exist";
        }

        var type = FileType(path);
        return type switch
        {
            null => $"image {printable} cannot be examined",
            0x8000 => null,
            _ => $"image {printable} is {Describe(type.Value)}, not a regular file",
        };
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
