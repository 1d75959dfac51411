using System.Diagnostics;
using CloonixActors.Relay.Capture;

namespace CloonixActors.Relay.Tests.Capture;

public sealed class CaptureSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cloonix-pcap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>An Ethernet frame carrying an IPv4 UDP datagram to 198.18.0.2, port 5000 + n.</summary>
    private static byte[] Frame(int n)
    {
        var f = new byte[14 + 20 + 8 + 10];
        byte[] dst = [0x02, 0xc1, 0, 0, 0, 2], src = [0x02, 0xc1, 0, 0, 0, 1];
        dst.CopyTo(f, 0);
        src.CopyTo(f, 6);
        f[12] = 0x08;
        f[14] = 0x45;
        f[16] = 0;
        f[17] = (byte)(f.Length - 14);
        f[22] = 64;
        f[23] = 17;
        byte[] ipSrc = [198, 18, 0, 1], ipDst = [198, 18, 0, 2];
        ipSrc.CopyTo(f, 26);
        ipDst.CopyTo(f, 30);
        var sum = 0;
        for (var i = 14; i < 34; i += 2)
        {
            sum += (f[i] << 8) | f[i + 1];
        }

        sum = (sum & 0xffff) + (sum >> 16);
        sum = ~((sum & 0xffff) + (sum >> 16)) & 0xffff;
        f[24] = (byte)(sum >> 8);
        f[25] = (byte)sum;
        var port = 5000 + n;
        f[36] = (byte)(port >> 8);
        f[37] = (byte)port;
        f[38] = 0;
        f[39] = 18;
        return f;
    }

    [Fact]
    public async Task A_capture_is_read_back_by_tshark_with_every_frame()
    {
        var file = Path.Combine(_dir, "c.pcap");
        await using (var sink = new PcapSink(File.Create(file)))
        {
            for (var i = 0; i < 100; i++)
            {
                sink.Offer(DateTimeOffset.UtcNow, Frame(i));
            }
        }

        var psi = new ProcessStartInfo("tshark", ["-r", file, "-T", "fields", "-e", "udp.dstport", "-e", "ip.dst"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var tshark = Process.Start(psi)!;
        var output = await tshark.StandardOutput.ReadToEndAsync();
        await tshark.WaitForExitAsync();

        Assert.Equal(0, tshark.ExitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(100, lines.Length);
        Assert.Equal("5000\t198.18.0.2", lines[0]);
        Assert.Equal("5099\t198.18.0.2", lines[99]);
    }

    [Fact]
    public void Timestamps_keep_nanosecond_resolution_and_long_frames_are_cut_to_the_snap_length()
    {
        using var ms = new MemoryStream();
        var writer = new PcapWriter(ms, snapLength: 64);
        var at = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddTicks(1234567);

        writer.Write(at, new byte[100]);

        var b = ms.ToArray();
        Assert.Equal(PcapWriter.NanosecondMagic, BitConverter.ToUInt32(b, 0));
        Assert.Equal(1_700_000_000u, BitConverter.ToUInt32(b, 24));
        Assert.Equal(123_456_700u, BitConverter.ToUInt32(b, 28));
        Assert.Equal(64, BitConverter.ToInt32(b, 32));
        Assert.Equal(100, BitConverter.ToInt32(b, 36));
        Assert.Equal(24 + 16 + 64, b.Length);
    }

    [Fact]
    public async Task A_reader_that_goes_away_stops_the_capture_without_an_exception()
    {
        var sink = new PcapSink(new BrokenStream());
        sink.Offer(DateTimeOffset.UtcNow, Frame(1));

        await sink.DisposeAsync();

        Assert.Equal(0, sink.Written);
    }

    [Fact]
    public void Counters_add_up_per_direction()
    {
        var c = new TrafficCounters();
        c.CountIn(100);
        c.CountIn(50);
        c.CountOut(60);
        c.CountDrop();

        Assert.Equal(new TrafficSnapshot(2, 150, 1, 60, 1), c.Snapshot());
    }

    private sealed class BrokenStream : Stream
    {
        private int _writes;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => 0;

        public override long Position { get; set; }

        public override void Flush() => throw new IOException("broken pipe");

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            // The global header goes through; the reader vanishes before the first record.
            if (_writes++ > 0)
            {
                throw new IOException("broken pipe");
            }
        }
    }
}
