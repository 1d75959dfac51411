using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CloonixActors.Relay.Memory;
using CloonixActors.Relay.Tests.Memory;
using CloonixActors.Relay.Virtio;
using Xunit.Abstractions;

namespace CloonixActors.Relay.Tests.Virtio;

/// <summary>
/// Hostile drivers: rings, descriptors, indirect tables, indices and buffers rewritten at random between
/// operations. Nothing may throw, every span handed out must lie inside a region, and the canaries
/// around the regions (and in their mmap offset areas) must survive.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Random_rings_never_make_the_relay_throw_or_reach_outside_guest_memory()
    {
        // RELAY_FUZZ_SEED and RELAY_FUZZ_ITERATIONS allow longer campaigns by hand; CI runs the fixed seed.
        var seed = int.TryParse(Environment.GetEnvironmentVariable("RELAY_FUZZ_SEED"), out var s) ? s : 0x5EED;
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("RELAY_FUZZ_ITERATIONS"), out var n) ? n : 20_000;
        using var guest = new TestGuest();
        var fuzzer = new RingFuzzer(guest, new Random(seed));

        for (var i = 0; i < iterations; i++)
        {
            fuzzer.Step();
            if (i % 1000 == 0)
            {
                Assert.True(guest.Native.GuardsIntact(), $"guards broken at iteration {i} of seed {seed}");
            }
        }

        Assert.True(guest.Native.GuardsIntact());
        fuzzer.Harvest();
        output.WriteLine(fuzzer.Report());
        // The run must have reached both the happy paths and the error paths, or it proved nothing.
        Assert.True(fuzzer.Popped > 2000, $"popped {fuzzer.Popped}");
        Assert.True(fuzzer.Errors > 2000, $"errors {fuzzer.Errors}");
        Assert.True(fuzzer.Forwarded > 200, $"forwarded {fuzzer.Forwarded}");
        Assert.True(fuzzer.Dropped > 200, $"dropped {fuzzer.Dropped}");
        Assert.True(fuzzer.Broken > 10, $"broken {fuzzer.Broken}");
        // Every kind of chain error was met at least once.
        foreach (var kind in Enum.GetValues<PopResult>().Where(r => r > PopResult.Empty && r != PopResult.TooManySegments))
        {
            Assert.True(fuzzer.ErrorKinds[(int)kind] > 0, $"no {kind}");
        }
        Assert.True(fuzzer.ChecksumsComputed > 0 && fuzzer.MultiBufferFrames > 0, fuzzer.Report());
    }

    [Fact]
    public void Random_translations_return_only_pieces_inside_the_regions()
    {
        using var guest = new TestGuest();
        var random = new Random(42);
        var memory = guest.Memory;
        var pieces = new BufferSegment[8];
        for (var i = 0; i < 100_000; i++)
        {
            var gpa = RingFuzzer.RandomAddress(random, 0);
            var length = RingFuzzer.RandomLength(random);
            if (memory.TryGetSegments(gpa, length, pieces, out var count))
            {
                long total = 0;
                foreach (var piece in pieces.AsSpan(0, count))
                {
                    RingFuzzer.AssertInside(memory, piece.Address, piece.Length);
                    total += piece.Length;
                }
                Assert.Equal(length, total);
                Assert.True(memory.IsMapped(gpa, length));
            }
            if (memory.TryTranslateAddress(gpa, length, out var host))
            {
                RingFuzzer.AssertInside(memory, host, (int)Math.Min(length, int.MaxValue));
                Assert.True(memory.IsMapped(gpa, length));
            }
            var user = (ulong)random.NextInt64() ^ (random.Next(2) == 0 ? 0 : 0x7F00_0000_0000UL + gpa);
            if (memory.TryTranslateUserAddr(user, length, out host))
            {
                RingFuzzer.AssertInside(memory, host, (int)Math.Min(length, int.MaxValue));
            }
        }
        Assert.True(guest.Native.GuardsIntact());
    }
}

/// <summary>Plays a hostile pair of drivers (a TX ring and an RX ring) against two queues and a forwarder.</summary>
internal sealed class RingFuzzer : IFrameObserver
{
    private const int MaxRingSize = 256;
    private const int ScratchSize = 64 * 1024;
    private const int TableZone = 16 * MaxRingSize;
    private static readonly int[] Sizes = [1, 2, 4, 16, 64, 256];
    private static readonly int[] FeatureBits =
    [
        VirtioFeatures.RingEventIdx, VirtioFeatures.RingIndirectDesc, VirtioFeatures.Version1, VirtioFeatures.NetMrgRxbuf,
        VirtioFeatures.NetGuestCsum, VirtioFeatures.NetGuestTso4, VirtioFeatures.NetGuestTso6, VirtioFeatures.NetGuestEcn,
        VirtioFeatures.NetGuestUfo, VirtioFeatures.NetGuestUso4, VirtioFeatures.NetGuestUso6,
    ];

    private readonly TestGuest _guest;
    private readonly Random _r;
    private readonly ulong[] _desc = new ulong[2];
    private readonly ulong[] _avail = new ulong[2];
    private readonly ulong[] _used = new ulong[2];
    private readonly int[] _sizes = new int[2];
    private readonly ushort[] _driverAvail = new ushort[2];
    private readonly SplitVirtqueue[] _queues = new SplitVirtqueue[2];
    private readonly ulong _scratch;
    private readonly DescriptorChain _chain = new();
    private readonly byte[] _sink = new byte[Forwarder.DefaultMaxFrameLength + 64];
    private Forwarder _forwarder = null!;

    public RingFuzzer(TestGuest guest, Random random)
    {
        _guest = guest;
        _r = random;
        for (var k = 0; k < 2; k++)
        {
            _desc[k] = guest.AllocRing(16 * MaxRingSize);
            _avail[k] = guest.AllocRing(6 + (2 * MaxRingSize));
            _used[k] = guest.AllocRing(6 + (8 * MaxRingSize));
        }
        _scratch = guest.AllocBuffer(ScratchSize);
        var noise = new byte[ScratchSize];
        _r.NextBytes(noise);
        guest.Write(_scratch, noise);
        Recreate();
    }

    public long Popped { get; private set; }

    public long Errors { get; private set; }

    public long Forwarded { get; private set; }

    public long Dropped { get; private set; }

    public long Broken { get; private set; }

    public long ChecksumsComputed { get; private set; }

    public long MultiBufferFrames { get; private set; }

    public long[] ErrorKinds { get; } = new long[Enum.GetValues<PopResult>().Length];

    /// <summary>Adds the current queues' error counters to <see cref="ErrorKinds"/> (done before queues are replaced).</summary>
    public void Harvest()
    {
        foreach (var queue in _queues)
        {
            foreach (var kind in Enum.GetValues<PopResult>())
            {
                ErrorKinds[(int)kind] += queue.Stats.Errors(kind);
            }
        }
    }

    public string Report() =>
        $"popped {Popped}, errors {Errors}, forwarded {Forwarded} ({MultiBufferFrames} multi-buffer, {ChecksumsComputed} checksums), "
        + $"dropped {Dropped}, broken {Broken}; "
        + string.Join(", ", Enum.GetValues<PopResult>().Where(r => r > PopResult.Empty).Select(r => $"{r} {ErrorKinds[(int)r]}"));

    public void Step()
    {
        for (var m = _r.Next(1, 6); m > 0; m--)
        {
            Mutate();
        }
        switch (_r.Next(12))
        {
            case < 4:
                PopSome(_r.Next(2));
                break;
            case < 9:
                Forward();
                break;
            case < 11:
                Notifications(_queues[_r.Next(2)]);
                break;
            default:
                if (_r.Next(20) == 0)
                {
                    Recreate();
                }
                Repair();
                break;
        }
    }

    public void OnFrame(in VirtioNetHeader header, FramePayload payload, DropReason outcome)
    {
        var total = 0;
        foreach (var piece in payload)
        {
            AssertInside(_guest.Memory, Address(piece), piece.Length);
            total += piece.Length;
        }
        Assert.Equal(payload.Length, total);
        Assert.Equal(Math.Min(payload.Length, _sink.Length), payload.CopyTo(_sink));
    }

    /// <summary>Mostly addresses near something interesting: region edges, the gap, rings, scratch; some wild ones.</summary>
    public static ulong RandomAddress(Random r, ulong scratch) => r.Next(16) switch
    {
        < 5 when scratch != 0 => scratch + (ulong)r.Next(ScratchSize),
        < 5 => TestGuest.Region2 + (ulong)r.Next(ScratchSize),
        5 => TestGuest.Region0 + TestGuest.Region0Size - (ulong)r.Next(64),
        6 => TestGuest.Region1 + TestGuest.Region1Size - (ulong)r.Next(64),
        7 => TestGuest.Region2 + TestGuest.Region2Size - (ulong)r.Next(64),
        8 => TestGuest.Gap + (ulong)r.Next(0x100000),
        9 => ulong.MaxValue - (ulong)r.Next(64),
        10 => (ulong)r.Next(0x10000),
        11 => TestGuest.Region1 + (ulong)r.Next(0x10000),
        12 => TestGuest.Region2 - (ulong)r.Next(64),
        13 => (ulong)r.NextInt64(),
        _ => TestGuest.Region1 + (ulong)r.Next((int)TestGuest.Region1Size),
    };

    public static uint RandomLength(Random r) => r.Next(12) switch
    {
        < 4 => (uint)r.Next(1, 64),
        < 7 => (uint)r.Next(64, 2048),
        7 => 0,
        8 => (uint)(16 * r.Next(0, 300)),
        9 => r.Next(3) switch { 0 => uint.MaxValue, 1 => int.MaxValue, _ => 0x8000_0000 },
        10 => (uint)r.Next(0x10000, 0x110000),
        _ => (uint)r.NextInt64(0, uint.MaxValue + 1L),
    };

    public static unsafe void AssertInside(GuestMemory memory, nint address, int length)
    {
        foreach (var region in memory.Regions)
        {
            if (address >= region.HostStart && length >= 0 && address + length <= region.HostStart + (nint)region.Size)
            {
                return;
            }
        }
        Assert.Fail($"0x{address:x}+{length} is outside every region");
    }

    private static unsafe nint Address(ReadOnlySpan<byte> span) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));

    private void Recreate()
    {
        if (_forwarder is not null)
        {
            _forwarder.ReturnHeld();
            Harvest();
        }
        var features = new ulong[2];
        for (var k = 0; k < 2; k++)
        {
            foreach (var bit in FeatureBits)
            {
                if (_r.Next(2) == 0)
                {
                    features[k] |= 1UL << bit;
                }
            }
            _sizes[k] = Sizes[_r.Next(Sizes.Length)];
            var lastAvail = (ushort)_r.Next(65536);
            _driverAvail[k] = (ushort)(lastAvail + _r.Next(_sizes[k] + 1));
            _guest.WriteU16(_avail[k] + 2, _driverAvail[k]);
            var addresses = new VirtqueueAddresses(TestGuest.UserOf(_desc[k]), TestGuest.UserOf(_avail[k]), TestGuest.UserOf(_used[k]));
            Assert.True(SplitVirtqueue.TryCreate(_guest.Memory, _sizes[k], addresses, features[k], lastAvail, out var queue, out var error), error.ToString());
            _queues[k] = queue;
        }
        _forwarder = new Forwarder(_queues[0], features[0], _queues[1], features[1], this, _r.Next(2) == 0 ? Forwarder.DefaultMaxFrameLength : 1514);
    }

    private void Mutate()
    {
        var k = _r.Next(2);
        var size = _sizes[k];
        switch (_r.Next(10))
        {
            case 0:
            case 1:
                WriteDescriptor(_desc[k] + (ulong)(16 * _r.Next(size)), RandomDescriptor(size));
                break;
            case 2:
                // Indirect table material: dense in the first page of scratch, where plausible indirect descriptors point.
                WriteDescriptor(_scratch + (ulong)(16 * _r.Next(_r.Next(2) == 0 ? TableZone / 16 : ScratchSize / 16)), RandomDescriptor(size));
                break;
            case 3 when _r.Next(2) == 0:
                // An indirect descriptor a driver could post, over whatever the table zone holds.
                var entries = _r.Next(1, size + 1);
                var table = _scratch + (ulong)(16 * _r.Next((TableZone / 16) - entries + 1));
                var indirectFlags = (ushort)(_r.Next(4) == 0 ? 4 | _r.Next(8) : 4);
                WriteDescriptor(_desc[k] + (ulong)(16 * _r.Next(size)), (table, (uint)(16 * entries), indirectFlags, (ushort)_r.Next(size)));
                break;
            case 3:
                _guest.WriteU16(_avail[k] + 4 + (ulong)(2 * _r.Next(size)), RandomHead(size));
                break;
            case 4:
                // Publish entries: mostly within reach, sometimes an impossible jump or a step back.
                _driverAvail[k] = _r.Next(30) switch
                {
                    0 => (ushort)_r.Next(65536),
                    1 => (ushort)(_queues[k].LastAvailIdx - 1),
                    _ => (ushort)(_driverAvail[k] + _r.Next(0, 3)),
                };
                _guest.WriteU16(_avail[k] + 2, _driverAvail[k]);
                break;
            case 5:
                var noise = new byte[_r.Next(1, 33)];
                _r.NextBytes(noise);
                var at = _r.Next(4) == 0 ? _used[k] + (ulong)_r.Next(8 * size) : RandomAddress(_r, _scratch);
                _guest.Memory.TryWrite(at, noise);
                break;
            case 6:
                _guest.WriteU16(_r.Next(2) == 0 ? _avail[k] : _avail[k] + 4 + (ulong)(2 * size), (ushort)_r.Next(65536));
                break;
            default:
                OfferPlausibleChain(k);
                break;
        }
    }

    /// <summary>A chain a real driver could post (TX: header + frame readable; RX: writable), so the forwarder gets far.</summary>
    private void OfferPlausibleChain(int k)
    {
        var size = _sizes[k];
        var count = _r.Next(1, Math.Min(size, 4) + 1);
        var head = (ushort)_r.Next(size);
        var index = head;
        for (var i = 0; i < count; i++)
        {
            var length = _r.Next(4) == 0 ? _r.Next(1, 40) : _r.Next(40, 1600);
            var addr = _scratch + (ulong)_r.Next(ScratchSize - length);
            var writable = k == 1 ? _r.Next(10) != 0 : _r.Next(10) == 0;
            if (i == 0 && k == 0)
            {
                var header = new byte[12];
                _r.NextBytes(header);
                header[0] &= 3;
                header[1] = _r.Next(3) == 0 ? header[1] : (byte)0;
                BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), (ushort)_r.Next(100));
                BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)_r.Next(40));
                _guest.Memory.TryWrite(addr, header);
            }
            var next = (ushort)((index + 1) % size);
            var flags = (ushort)((writable ? 2 : 0) | (i < count - 1 ? 1 : 0));
            WriteDescriptor(_desc[k] + (ulong)(16 * index), (addr, (uint)length, flags, next));
            index = next;
        }
        _guest.WriteU16(_avail[k] + 4 + (ulong)(2 * (_driverAvail[k] % size)), head);
        _driverAvail[k]++;
        _guest.WriteU16(_avail[k] + 2, _driverAvail[k]);
    }

    private (ulong Addr, uint Len, ushort Flags, ushort Next) RandomDescriptor(int size)
    {
        if (_r.Next(3) == 0)
        {
            // Looks valid: a buffer in scratch, NEXT and WRITE at random, rarely INDIRECT.
            var length = (uint)_r.Next(1, 1600);
            var plausibleFlags = (ushort)(_r.Next(4) | (_r.Next(12) == 0 ? 4 : 0));
            return (_scratch + TableZone + (ulong)_r.Next(ScratchSize - TableZone - 1600), length, plausibleFlags, (ushort)_r.Next(Math.Min(size, 8)));
        }
        var flags = (ushort)_r.Next(8);
        if (_r.Next(8) == 0)
        {
            flags |= (ushort)_r.Next(65536);
        }
        var next = _r.Next(4) == 0 ? (ushort)_r.Next(65536) : (ushort)_r.Next(size + 2);
        return (RandomAddress(_r, _scratch), RandomLength(_r), flags, next);
    }

    private ushort RandomHead(int size) => _r.Next(5) == 0 ? (ushort)_r.Next(65536) : (ushort)_r.Next(size);

    private void WriteDescriptor(ulong at, (ulong Addr, uint Len, ushort Flags, ushort Next) d)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, d.Addr);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), d.Len);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(12), d.Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(14), d.Next);
        _guest.Memory.TryWrite(at, bytes);
    }

    private void PopSome(int k)
    {
        var queue = _queues[k];
        for (var n = _r.Next(1, 8); n > 0; n--)
        {
            var result = queue.TryPop(_chain);
            if (result == PopResult.Empty)
            {
                return;
            }
            if (result != PopResult.Ok)
            {
                Errors++;
                Assert.Empty(_chain.Segments.ToArray());
                continue;
            }
            Popped++;
            Check(_chain);
            _chain.CopyFromReadable(_r.Next(4), _sink);
            var pattern = new byte[Math.Min(_chain.WritableLength, 256)];
            _r.NextBytes(pattern);
            _chain.CopyToWritable(_r.Next(4), pattern);
            queue.Push(_chain.Head, (uint)_r.Next(_chain.WritableLength + 1));
        }
    }

    private void Forward()
    {
        var usedBefore = _queues[1].LastUsedIdx;
        var result = _forwarder.Forward(_r.Next(0, 16));
        Forwarded += result.Frames;
        ChecksumsComputed += result.ChecksumsComputed;
        // More used RX entries than frames and refused chains: some frame took several buffers.
        if ((ushort)(_queues[1].LastUsedIdx - usedBefore) > result.Frames + result.BadDestinationChains)
        {
            MultiBufferFrames++;
        }
        Dropped += result.TotalDropped;
        Errors += result.BadDestinationChains;
        Assert.True(result.Frames + result.TotalDropped <= 16);
    }

    private void Notifications(SplitVirtqueue queue)
    {
        switch (_r.Next(4))
        {
            case 0:
                queue.ShouldNotifyDriver();
                break;
            case 1:
                queue.EnableNotifications();
                break;
            case 2:
                queue.DisableNotifications();
                break;
            default:
                Assert.InRange(queue.AvailableCount(), 0, queue.Size);
                break;
        }
    }

    /// <summary>What the control plane does after a broken ring: the driver resets it and we take the new base.</summary>
    private void Repair()
    {
        for (var k = 0; k < 2; k++)
        {
            if (_queues[k].IsBroken)
            {
                Broken++;
                _driverAvail[k] = _queues[k].LastAvailIdx;
                _guest.WriteU16(_avail[k] + 2, _driverAvail[k]);
                _queues[k].SetBase(_queues[k].GetBase());
            }
        }
    }

    private void Check(DescriptorChain chain)
    {
        long readable = 0, writable = 0;
        foreach (var s in chain.ReadableSegments)
        {
            AssertInside(_guest.Memory, s.Address, s.Length);
            readable += s.Length;
        }
        foreach (var s in chain.WritableSegments)
        {
            AssertInside(_guest.Memory, s.Address, s.Length);
            writable += s.Length;
        }
        Assert.Equal(chain.ReadableLength, readable);
        Assert.Equal(chain.WritableLength, writable);
        Assert.InRange(chain.Head, 0, _queues[0].Size > _queues[1].Size ? _queues[0].Size : _queues[1].Size);
    }
}
