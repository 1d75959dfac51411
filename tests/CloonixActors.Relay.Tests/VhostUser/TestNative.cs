using System.Runtime.InteropServices;
using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Relay.Tests.VhostUser;

/// <summary>What a fake front-end needs beyond the back-end's own LibC: shared memory and pipes to hand over.</summary>
internal static unsafe partial class TestNative
{
    private const uint MfdCloexec = 1;
    private const int OCloexec = 0x80000;

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true)]
    private static partial int MemfdCreate(byte* name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2(int* fds, int flags);

    /// <summary>A memfd of <paramref name="size"/> bytes, like QEMU's memory-backend-memfd.</summary>
    public static int CreateMemfd(long size)
    {
        var name = "vhost-user-test\0"u8;
        int fd;
        fixed (byte* p = name)
        {
            fd = MemfdCreate(p, MfdCloexec);
        }

        if (fd < 0 || Ftruncate(fd, size) != 0)
        {
            throw new IOException($"memfd failed (errno {Marshal.GetLastPInvokeError()})");
        }

        return fd;
    }

    /// <summary>A memfd backed by 2 MiB huge pages (what DPDK, hence OVS's net_virtio_user, shares), or -1 if none are free.</summary>
    public static int CreateHugeMemfd(long size)
    {
        const uint MfdHugetlb = 4;
        var name = "vhost-user-test-huge\0"u8;
        int fd;
        fixed (byte* p = name)
        {
            fd = MemfdCreate(p, MfdCloexec | MfdHugetlb);
        }

        if (fd >= 0 && Ftruncate(fd, size) != 0)
        {
            LibC.CloseFd(fd);
            return -1;
        }

        return fd;
    }

    /// <summary>A pipe: (read end, write end).</summary>
    public static (int Read, int Write) CreatePipe()
    {
        var fds = stackalloc int[2];
        if (Pipe2(fds, OCloexec) != 0)
        {
            throw new IOException($"pipe2 failed (errno {Marshal.GetLastPInvokeError()})");
        }

        return (fds[0], fds[1]);
    }

    public static int CreateEventFd()
    {
        var fd = LibC.EventFd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        return fd >= 0 ? fd : throw new IOException($"eventfd failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>
    /// Whether every write end of the pipe whose read end is <paramref name="readFd"/> is closed (poll
    /// reports POLLHUP), waiting up to <paramref name="timeout"/>. Used to prove the back-end closed a
    /// descriptor it received and did not keep.
    /// </summary>
    public static bool WaitWriteEndsClosed(int readFd, TimeSpan timeout)
    {
        var pfd = new LibC.PollFd { Fd = readFd, Events = LibC.POLLIN };
        var n = LibC.Poll(&pfd, 1, (int)timeout.TotalMilliseconds);
        return n > 0 && (pfd.Revents & LibC.POLLHUP) != 0;
    }

    public static nint MapShared(int fd, long size)
    {
        var address = LibC.Mmap(0, (nuint)size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        return address != LibC.MapFailed ? address : throw new IOException($"mmap failed (errno {Marshal.GetLastPInvokeError()})");
    }
}
