using System.Runtime.InteropServices;

namespace CloonixActors.Relay.VhostUser;

/// <summary>
/// The few libc calls the vhost-user plumbing needs, declared with pointers and integers only so the
/// source-generated stubs marshal nothing. Layouts and constants are those of Linux x86-64 (and arm64,
/// which shares them): the BCL has no way to receive SCM_RIGHTS file descriptors or to map a memfd.
/// </summary>
internal static unsafe partial class LibC
{
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EPIPE = 32;
    public const int ECONNRESET = 104;

    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int SO_RCVTIMEO = 20;
    public const int SO_SNDTIMEO = 21;

    public const int MSG_CTRUNC = 0x8;
    public const int MSG_NOSIGNAL = 0x4000;
    // Received descriptors must not leak into the QEMU and OVS processes this host spawns.
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    public const short POLLIN = 0x1;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int O_NONBLOCK = 0x800;

    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x1;
    public static readonly nint MapFailed = -1;

    /// <summary>sizeof(struct cmsghdr): cmsg_len (size_t), cmsg_level, cmsg_type.</summary>
    public const int CmsgHeaderSize = 16;

    /// <summary>CMSG_ALIGN: control messages are padded to the size of size_t.</summary>
    public static int CmsgAlign(int length) => (length + 7) & ~7;

    /// <summary>CMSG_SPACE(n): the room one control message with n data bytes takes.</summary>
    public static int CmsgSpace(int dataLength) => CmsgHeaderSize + CmsgAlign(dataLength);

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>
    /// sizeof(struct stat) is 144 on x86-64 and 128 on arm64; a buffer this large fits both. In both
    /// layouts st_size is the 64-bit integer at byte 48 and st_blksize starts at byte 56 (64-bit on
    /// x86-64, 32-bit on arm64: its low 32 bits are read).
    /// </summary>
    public const int StatBufferSize = 256;
    public const int StatSizeOffset = 48;
    public const int StatBlockSizeOffset = 56;

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    public static partial int Fstat(int fd, byte* statBuffer);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    /// <summary>Closes a descriptor we own; -1 (none) is a no-op. EINTR on close must not be retried on Linux.</summary>
    public static void CloseFd(int fd)
    {
        if (fd >= 0)
        {
            _ = Close(fd);
        }
    }

    /// <summary>The size of the file behind <paramref name="fd"/> (st_size), or -1 when fstat fails.</summary>
    public static long FileSize(int fd) => TryGetFileInfo(fd, out var size, out _) ? size : -1;

    /// <summary>st_size and st_blksize (the huge page size on hugetlbfs) of the file behind <paramref name="fd"/>.</summary>
    public static bool TryGetFileInfo(int fd, out long size, out int blockSize)
    {
        var buffer = stackalloc byte[StatBufferSize];
        if (Fstat(fd, buffer) != 0)
        {
            size = -1;
            blockSize = 0;
            return false;
        }

        size = *(long*)(buffer + StatSizeOffset);
        blockSize = *(int*)(buffer + StatBlockSizeOffset);
        return true;
    }

    /// <summary>Writes 1 to an eventfd (a wake-up); a full counter (EAGAIN) already means "woken".</summary>
    public static void SignalEventFd(int fd)
    {
        ulong one = 1;
        _ = Write(fd, &one, sizeof(ulong));
    }

    /// <summary>Resets a non-blocking eventfd's counter so poll() stops reporting it readable.</summary>
    public static void DrainEventFd(int fd)
    {
        ulong value;
        _ = Read(fd, &value, sizeof(ulong));
    }
}
