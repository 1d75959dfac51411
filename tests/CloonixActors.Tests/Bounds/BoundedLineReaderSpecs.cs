using System.Text;
using CloonixActors.DataPlane;
using CloonixActors.DataPlane.Qemu;

namespace CloonixActors.Tests.Bounds;

public sealed class BoundedLineReaderSpecs
{
    /// <summary>A stream that never ends and never sends a newline: what a hostile guest can write.</summary>
    private sealed class EndlessLine : Stream
    {
        public long Served { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Served; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, (byte)'A', offset, count);
            Served += count;
            return count;
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Hands out a fixed text a few bytes per read, so lines straddle reads.</summary>
    private sealed class Trickle(string text, int step) : MemoryStream(Encoding.ASCII.GetBytes(text))
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, step));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, step)], cancellationToken);
    }

    [Fact]
    public async Task An_endless_line_is_refused_once_it_passes_the_limit_not_read_forever()
    {
        var guest = new EndlessLine();
        var reader = new BoundedLineReader(guest, 1 << 20);

        var ex = await Assert.ThrowsAsync<DataPlaneException>(() => reader.ReadLineAsync());

        Assert.Contains("longer than 1048576 bytes", ex.Message, StringComparison.Ordinal);
        Assert.True(guest.Served < (1 << 20) + (128 << 10), $"read {guest.Served} bytes");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public async Task Lines_are_returned_whole_whatever_the_reads_and_cr_is_dropped(int step)
    {
        var reader = new BoundedLineReader(new Trickle("HELLO 6.1\r\nRES 1 0 aGk= \n\nlast-without-newline", step), 64);

        Assert.Equal("HELLO 6.1", await reader.ReadLineAsync());
        Assert.Equal("RES 1 0 aGk= ", await reader.ReadLineAsync());
        Assert.Equal(string.Empty, await reader.ReadLineAsync());
        Assert.Null(await reader.ReadLineAsync());
    }

    [Fact]
    public async Task A_line_of_exactly_the_limit_is_accepted_and_one_byte_more_is_not()
    {
        var ok = new BoundedLineReader(new Trickle(new string('x', 100) + "\n", 7), 100);
        var over = new BoundedLineReader(new Trickle(new string('x', 101) + "\n", 7), 100);

        Assert.Equal(100, (await ok.ReadLineAsync())!.Length);
        await Assert.ThrowsAsync<DataPlaneException>(() => over.ReadLineAsync());
    }

    [Fact]
    public void The_limit_holds_the_largest_reply_the_agent_sends()
    {
        var both = 2 * Convert.ToBase64String(new byte[OutputCap.MaxBytes]).Length;
        Assert.True(both + 64 < GuestAgent.MaxLineBytes);
    }
}
