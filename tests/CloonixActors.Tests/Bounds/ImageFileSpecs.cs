using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;

namespace CloonixActors.Tests.Bounds;

public sealed class ImageFileSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cloonix-image-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_regular_file_and_a_symlink_to_one_are_accepted()
    {
        var disk = Path.Combine(_dir, "disk.qcow2");
        File.WriteAllText(disk, "not really qcow2, but a regular file");
        var link = Path.Combine(_dir, "link.qcow2");
        File.CreateSymbolicLink(link, disk);

        Assert.Null(ImageFile.Problem(disk));
        Assert.Null(ImageFile.Problem(link));
    }

    [Fact]
    public async Task Devices_fifos_directories_and_symlinks_to_them_are_refused_saying_what_they_are()
    {
        var fifo = Path.Combine(_dir, "fifo");
        Assert.True((await ProcessRunner.RunAsync("mkfifo", [fifo])).Ok);
        var toNull = Path.Combine(_dir, "null.qcow2");
        File.CreateSymbolicLink(toNull, "/dev/null");

        Assert.Equal("image /dev/null is a character device, not a regular file", ImageFile.Problem("/dev/null"));
        Assert.Equal($"image {toNull} is a character device, not a regular file", ImageFile.Problem(toNull));
        Assert.Equal($"image {fifo} is a FIFO, not a regular file", ImageFile.Problem(fifo));
        Assert.Equal($"image {_dir} is a directory, not a regular file", ImageFile.Problem(_dir));
        Assert.Equal($"image {_dir}/none does not exist", ImageFile.Problem($"{_dir}/none"));
    }

    [Fact]
    public void Kernel_files_that_pass_for_regular_ones_and_empty_files_are_refused()
    {
        var viaDir = Path.Combine(_dir, "procdir");
        Directory.CreateSymbolicLink(viaDir, "/proc");
        var empty = Path.Combine(_dir, "empty.qcow2");
        File.WriteAllBytes(empty, []);

        Assert.Equal("image /proc/self/mem is a file of the kernel's (/proc, /sys or /dev), not a disk", ImageFile.Problem("/proc/self/mem"));
        Assert.EndsWith(" is a file of the kernel's (/proc, /sys or /dev), not a disk", ImageFile.Problem($"{viaDir}/self/mem"), StringComparison.Ordinal);
        Assert.Equal("image /sys/kernel/uevent_seqnum is a file of the kernel's (/proc, /sys or /dev), not a disk", ImageFile.Problem("/sys/kernel/uevent_seqnum"));
        Assert.EndsWith(" is empty, not a disk", ImageFile.Problem(empty), StringComparison.Ordinal);
    }
}
