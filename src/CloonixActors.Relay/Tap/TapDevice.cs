using System.Runtime.InteropServices;
using CloonixActors.Relay.VhostUser;

namespace CloonixActors.Relay.Tap;

/// <summary>
/// A tap device the relay reads and writes itself, with the virtio-net header (IFF_VNET_HDR, 12 bytes) and
/// checksum and TSO offloads on, so frames keep their offloads across it. Made inside a given network
/// namespace (the switch's, or a container's) from a short-lived thread that enters it, so its name never
/// meets another namespace's. The fd is non-blocking; the device lives as long as the fd (closing removes it).
/// </summary>
public sealed unsafe partial class TapDevice : IDisposable
{
    /// <summary>virtio_net_hdr_v1 with num_buffers: the header the relay's rings use with VERSION_1.</summary>
    public const int HeaderLength = 12;

    private const uint TunSetIff = 0x400454ca;
    private const uint TunSetOffload = 0x400454d0;
    private const uint TunSetPersist = 0x400454cb;
    private const uint TunSetVnetHdrSz = 0x400454d8;
    private const short IffTap = 0x0002;
    private const short IffNoPi = 0x1000;
    private const short IffVnetHdr = 0x4000;
    private const uint TunFCsum = 0x01;
    private const uint TunFTso4 = 0x02;
    private const uint TunFTso6 = 0x04;
    private const uint SiocGIfFlags = 0x8913;
    private const uint SiocSIfFlags = 0x8914;
    private const int CloneNewNet = 0x40000000;
    private const int ORdWr = 2;
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;
    private const int EAgain = 11;
    private const int EIntr = 4;

    private int _fd;

    private TapDevice(int fd, string name)
    {
        _fd = fd;
        Name = name;
    }

    public string Name { get; }

    public int Fd => _fd;

    /// <summary>
    /// Creates tap <paramref name="name"/> in the network namespace at <paramref name="netnsPath"/> (null: this
    /// one), up. A <paramref name="persistent"/> tap outlives this fd (it goes with its namespace), and a
    /// later Create of the same name attaches to it, addresses and all.
    /// </summary>
    public static TapDevice Create(string name, string? netnsPath, int mtu = 0, bool persistent = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length > 15 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new ArgumentException($"'{name}' is not a valid interface name", nameof(name));
        }

        int fd = -1;
        Exception? failure = null;
        // setns changes only the calling thread's namespace: a thread of our own enters, creates, and ends.
        var thread = new Thread(() =>
        {
            try
            {
                fd = CreateHere(name, netnsPath, mtu, persistent);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        { IsBackground = true, Name = $"tap {name}" };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw failure;
        }

        return new TapDevice(fd, name);
    }

    private static int CreateHere(string name, string? netnsPath, int mtu, bool persistent)
    {
        if (netnsPath is not null)
        {
            using var ns = File.OpenHandle(netnsPath, FileMode.Open, FileAccess.Read);
            if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
            {
                throw new IOException($"cannot enter network namespace {netnsPath}: errno {Marshal.GetLastPInvokeError()}");
            }
        }

        var fd = Open("/dev/net/tun", ORdWr | ONonBlock | OCloExec);
        if (fd < 0)
        {
            throw new IOException($"cannot open /dev/net/tun: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            var ifr = stackalloc byte[40];
            new Span<byte>(ifr, 40).Clear();
            var bytes = System.Text.Encoding.ASCII.GetBytes(name);
            bytes.CopyTo(new Span<byte>(ifr, 16));
            *(short*)(ifr + 16) = IffTap | IffNoPi | IffVnetHdr;
            Check(Ioctl(fd, TunSetIff, ifr), $"cannot create tap {name}");
            var hdr = HeaderLength;
            Check(Ioctl(fd, TunSetVnetHdrSz, &hdr), $"tap {name}: header size");
            Check(Ioctl(fd, TunSetOffload, (void*)(nint)(TunFCsum | TunFTso4 | TunFTso6)), $"tap {name}: offloads");
            if (persistent)
            {
                Check(Ioctl(fd, TunSetPersist, (void*)1), $"tap {name}: persist");
            }

            SetUp(name, mtu);
            return fd;
        }
        catch
        {
            LibC.CloseFd(fd);
            throw;
        }
    }

    /// <summary>Brings the link up (and sets its MTU) from the current thread's namespace.</summary>
    private static void SetUp(string name, int mtu)
    {
        var sock = Socket(2, 2, 0);
        if (sock < 0)
        {
            throw new IOException($"socket: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            var ifr = stackalloc byte[40];
            new Span<byte>(ifr, 40).Clear();
            System.Text.Encoding.ASCII.GetBytes(name).CopyTo(new Span<byte>(ifr, 16));
            if (mtu > 0)
            {
                *(int*)(ifr + 16) = mtu;
                Check(Ioctl(sock, 0x8922, ifr), $"tap {name}: mtu");
            }

            Check(Ioctl(sock, SiocGIfFlags, ifr), $"tap {name}: flags");
            *(short*)(ifr + 16) |= 1;
            Check(Ioctl(sock, SiocSIfFlags, ifr), $"tap {name}: up");
        }
        finally
        {
            LibC.CloseFd(sock);
        }
    }

    private static void Check(int result, string what)
    {
        if (result < 0)
        {
            throw new IOException($"{what}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Reads one frame (header included); 0 when none is waiting.</summary>
    public int Read(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = LibC.Read(_fd, p, (nuint)buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == EIntr)
                {
                    continue;
                }

                if (errno == EAgain)
                {
                    return 0;
                }

                throw new IOException($"tap {Name}: read failed, errno {errno}");
            }
        }
    }

    /// <summary>Writes one frame (header included); false when the device cannot take it now.</summary>
    public bool Write(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            while (true)
            {
                var n = LibC.Write(_fd, p, (nuint)frame.Length);
                if (n >= 0)
                {
                    return true;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == EIntr)
                {
                    continue;
                }

                if (errno == EAgain)
                {
                    return false;
                }

                // EIO while the link is down, EINVAL for a frame the kernel refuses: the frame is lost, not the relay.
                return true;
            }
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LibC.CloseFd(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);
}
