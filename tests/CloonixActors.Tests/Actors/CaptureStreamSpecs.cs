
namespace CloonixActors.Tests.Actors;

public sealed class CaptureStreamSpecs
{
    [Fact]
    public void A_flush_sends_what_was_written_as_one_chunk_in_sequence()
    {
        var sent = new List<(long, byte[])>();
        using var stream = new CaptureStream((seq, bytes) => sent.Add((seq, bytes)), window: 4, stallTimeout: TimeSpan.FromSeconds(1));

        stream.Write([1, 2]);
        stream.Write([3]);
        stream.Flush();
        stream.Flush();
        stream.Write([4]);
        stream.Flush();

        Assert.Equal(2, sent.Count);
        Assert.Equal([1L, 2L], sent.Select(c => c.Item1));
        Assert.Equal([1, 2, 3], sent[0].Item2);
        Assert.Equal([4], sent[1].Item2);
    }

    [Fact]
    public void Without_acknowledgements_the_window_runs_out_and_a_stalled_reader_fails_the_write()
    {
        var sent = 0;
        using var stream = new CaptureStream((_, _) => sent++, window: 2, stallTimeout: TimeSpan.FromMilliseconds(200));
        for (var i = 0; i < 2; i++)
        {
            stream.Write([1]);
            stream.Flush();
        }

        stream.Write([1]);
        Assert.Throws<IOException>(stream.Flush);
        Assert.Equal(2, sent);

        stream.Ack(2);
        stream.Flush();
        Assert.Equal(3, sent);
    }

    [Fact]
    public void A_big_write_leaves_as_chunks_of_bounded_size()
    {
        var sizes = new List<int>();
        using var stream = new CaptureStream((_, bytes) => sizes.Add(bytes.Length), window: 16, stallTimeout: TimeSpan.FromSeconds(1));
        var frame = new byte[100_000];
        for (var i = 0; i < 6; i++)
        {
            stream.Write(frame);
        }

        stream.Flush();
        Assert.Equal(600_000, sizes.Sum());
        Assert.All(sizes, s => Assert.True(s < CaptureStream.ChunkBytes + frame.Length));
        Assert.True(sizes.Count >= 2);
    }
}
