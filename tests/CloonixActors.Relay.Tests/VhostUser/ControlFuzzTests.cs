using CloonixActors.Relay.Engine;
using CloonixActors.Relay.VhostUser;
using Xunit.Abstractions;

namespace CloonixActors.Relay.Tests.VhostUser;

/// <summary>
/// A hostile front end on the relay's node socket, the one QEMU connects to: random control-message
/// sequences (any request code, flags, sizes that lie, payloads, descriptors of every kind, sometimes after a
/// well-formed start so the rings run on garbage). The relay engine the daemon runs must stay up: after
/// every session a well-behaved front end still gets its features, no descriptor leaks, and the engine
/// never reports a fault.
/// </summary>
// Alone: it counts the process's descriptors, which tests running beside it would open and close meanwhile.
[Collection(nameof(ControlFuzzTests))]
public sealed class ControlFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cloonix-ctlfuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Random_control_sequences_never_take_the_relay_down()
    {
        // VHOST_FUZZ_SEED and VHOST_FUZZ_SESSIONS allow longer campaigns by hand; the seed is printed either way.
        var seed = int.TryParse(Environment.GetEnvironmentVariable("VHOST_FUZZ_SEED"), out var s) ? s : Random.Shared.Next();
        var sessions = int.TryParse(Environment.GetEnvironmentVariable("VHOST_FUZZ_SESSIONS"), out var n) ? n : 2000;
        output.WriteLine($"vhost-user control fuzz: seed {seed}, {sessions} sessions (VHOST_FUZZ_SEED={seed} repeats it)");
        var random = new Random(seed);
        var nodeSocket = Path.Combine(_dir, "node.sock");
        Exception? fault = null;
        using var relay = new RelayEngine(
            new VhostUserBackendOptions { SocketPath = nodeSocket, Name = "node" },
            new VhostUserBackendOptions { SocketPath = Path.Combine(_dir, "lan.sock"), Name = "lan" });
        relay.Faulted += e => fault = e;
        var queuesStarted = 0;
        var reasons = new System.Collections.Concurrent.ConcurrentQueue<string>();
        relay.NodeBackend.Disconnected += (_, e) => reasons.Enqueue(e.Reason ?? string.Empty);
        relay.NodeBackend.QueueReady += (_, _) => Interlocked.Increment(ref queuesStarted);
        relay.Start();
        var offered = relay.NodeBackend.OfferedFeatures;
        var fdsBefore = OpenDescriptors();
        var stats = new FuzzStats();

        for (var i = 0; i < sessions; i++)
        {
            using (var connection = VhostUserConnection.Connect(nodeSocket, FakeFrontend.Timeout))
            {
                var frontend = new HostileFrontend(connection, random, stats);
                if (random.Next(3) == 0)
                {
                    frontend.StartWellFormed();
                }

                frontend.SendGarbage(random.Next(1, 40));
            }

            // The relay still serves the next front end as QEMU would find it.
            using var probe = FakeFrontend.Connect(nodeSocket);
            Assert.True(
                (VirtioFeatures)probe.Get(VhostUserRequest.GetFeatures) == offered,
                $"session {i} of seed {seed}: the relay no longer answers GET_FEATURES");
            Assert.True(fault is null, $"session {i} of seed {seed}: the relay faulted: {fault}");
        }

        Assert.True(relay.NodeBackend.SessionCount >= sessions, $"only {relay.NodeBackend.SessionCount} sessions were served");
        output.WriteLine(stats.ToString());
        // The run reached the refusals and the accepted paths, or it proved nothing.
        Assert.True(stats.Sent > sessions * 5, stats.ToString());
        // Why the relay ended each session: the refusals of garbage, and never an unexpected exception.
        var kinds = reasons.GroupBy(Kind).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine(string.Join(", ", kinds.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Value} {k.Key}")));
        Assert.True(!kinds.ContainsKey("session failed"), $"a session ended on an unexpected exception (seed {seed}): {reasons.FirstOrDefault(r => r.StartsWith("session failed", StringComparison.Ordinal))}");
        Assert.True(kinds.GetValueOrDefault("protocol error") > sessions / 10, $"few protocol errors met: {string.Join(", ", kinds)}");
        Assert.True(stats.WellFormedStarts > sessions / 5, stats.ToString());
        // Some sessions got as far as running rings, so the forwarder met random rings too.
        output.WriteLine($"rings started {Volatile.Read(ref queuesStarted)} times");
        Assert.True(Volatile.Read(ref queuesStarted) > sessions / 20, "too few sessions started a ring");
        relay.Dispose();
        // Every descriptor the front ends passed was closed by the relay once their sessions ended.
        var fdsAfter = OpenDescriptors();
        Assert.True(fdsAfter <= fdsBefore + 2, $"descriptors: {fdsBefore} before, {fdsAfter} after (seed {seed})");
    }

    /// <summary>A disconnect reason without its details ("protocol error: ..." → "protocol error").</summary>
    private static string Kind(string reason)
    {
        var colon = reason.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? reason : reason[..colon];
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    private sealed class FuzzStats
    {
        public int Sent;
        public int ClosedByRelay;
        public int WellFormedStarts;
        public int DescriptorsPassed;

        public override string ToString() =>
            $"sent {Sent} messages, relay closed {ClosedByRelay} sessions, {WellFormedStarts} well-formed starts, {DescriptorsPassed} descriptors passed";
    }

    /// <summary>One session's front end: writes through the relay's own connection class, never reads what it is not owed.</summary>
    private sealed class HostileFrontend(VhostUserConnection connection, Random random, FuzzStats stats)
    {
        private const long MemorySize = 1 << 20;
        private const ulong GuestBase = 0x7f00_0000_0000;
        private readonly byte[] _buffer = new byte[VhostUserHeader.Length + VhostUserCodec.MaxPayloadSize + 64];
        private readonly VhostUserMessage _reply = new();
        private bool _closed;

        /// <summary>QEMU's order at driver start, with a real memfd as guest memory and rings at random places in it.</summary>
        public unsafe void StartWellFormed()
        {
            stats.WellFormedStarts++;
            var memfd = TestNative.CreateMemfd(MemorySize);
            try
            {
                Span<byte> payload = stackalloc byte[512];
                Request(VhostUserRequest.GetFeatures, [], needReply: false, expectReply: true);
                Request(VhostUserRequest.SetOwner, [], needReply: false, expectReply: false);
                var features = (ulong)(VirtioFeatures.Version1 | VirtioFeatures.NetMrgRxbuf | VirtioFeatures.NetCsum);
                Request(VhostUserRequest.SetFeatures, payload[..VhostUserCodec.WriteU64(payload, features)], needReply: false, expectReply: false);
                MemoryRegionDescription[] regions = [new(0, (ulong)MemorySize, GuestBase, 0)];
                Request(VhostUserRequest.SetMemTable, payload[..VhostUserCodec.WriteMemoryTable(payload, regions)], needReply: false, expectReply: false, [memfd]);
                // Guest memory full of garbage: whatever the rings point at is random.
                var mapping = TestNative.MapShared(memfd, MemorySize);
                random.NextBytes(new Span<byte>((void*)mapping, (int)MemorySize));
                _ = LibC.Munmap(mapping, (nuint)MemorySize);
                // Half of the starts put the rings where a driver would (so they run), the rest anywhere.
                var sane = random.Next(2) == 0;
                for (var ring = 0u; ring < 2; ring++)
                {
                    var num = sane ? 256u : (uint)(1 << random.Next(0, 16));
                    Request(VhostUserRequest.SetVringNum, payload[..VhostUserCodec.WriteVringState(payload, new VringState(ring, num))], false, false);
                    Request(VhostUserRequest.SetVringBase, payload[..VhostUserCodec.WriteVringState(payload, new VringState(ring, sane ? 0u : (uint)random.Next(0, 65536)))], false, false);
                    var start = GuestBase + (ring * 0x80000UL);
                    var address = sane
                        ? new VringAddress(ring, 0, start + 0x1000, start + 0x4000, start + 0x3000, 0)
                        : new VringAddress(ring, 0, RandomAddress(), RandomAddress(), RandomAddress(), 0);
                    Request(VhostUserRequest.SetVringAddr, payload[..VhostUserCodec.WriteVringAddress(payload, address)], false, false);
                    var kick = TestNative.CreateEventFd();
                    var call = TestNative.CreateEventFd();
                    Request(VhostUserRequest.SetVringKick, payload[..VhostUserCodec.WriteVringFile(payload, new VringFile(ring, false))], false, false, [kick]);
                    Request(VhostUserRequest.SetVringCall, payload[..VhostUserCodec.WriteVringFile(payload, new VringFile(ring, false))], false, false, [call]);
                    // Wake the forwarder so it reads the (random) rings.
                    LibC.SignalEventFd(kick);
                    LibC.CloseFd(kick);
                    LibC.CloseFd(call);
                }
            }
            finally
            {
                LibC.CloseFd(memfd);
            }
        }

        public void SendGarbage(int count)
        {
            for (var i = 0; i < count && !_closed; i++)
            {
                var request = random.Next(10) == 0 ? (VhostUserRequest)random.Next(0, 1000) : (VhostUserRequest)random.Next(0, 42);
                var flags = random.Next(8) switch
                {
                    0 => (uint)random.Next(),
                    1 => VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag,
                    _ => VhostUserHeader.Version,
                };
                var length = random.Next(6) == 0 ? random.Next(0, VhostUserCodec.MaxPayloadSize + 16) : random.Next(0, 48);
                var payload = _buffer.AsSpan(VhostUserHeader.Length, Math.Min(length, VhostUserCodec.MaxPayloadSize));
                random.NextBytes(payload);
                // Sometimes the header's size lies: more than is sent (a truncated message) or far more than allowed.
                var size = random.Next(10) switch
                {
                    0 => (uint)random.Next(),
                    1 => (uint)(payload.Length + random.Next(1, 64)),
                    _ => (uint)payload.Length,
                };
                var fds = RandomDescriptors();
                try
                {
                    VhostUserCodec.WriteHeader(_buffer, new VhostUserHeader(request, flags, size));
                    Send(_buffer.AsSpan(0, VhostUserHeader.Length + payload.Length), fds);
                }
                finally
                {
                    foreach (var fd in fds)
                    {
                        LibC.CloseFd(fd);
                    }
                }
            }
        }

        private ulong RandomAddress() => random.Next(4) switch
        {
            0 => (ulong)random.NextInt64(),
            _ => GuestBase + (ulong)random.NextInt64(0, MemorySize),
        };

        private int[] RandomDescriptors()
        {
            var count = random.Next(10) < 7 ? 0 : random.Next(1, VhostUserCodec.MaxFds + 3);
            var fds = new int[Math.Min(count, VhostUserCodec.MaxFds)];
            for (var i = 0; i < fds.Length; i++)
            {
                fds[i] = random.Next(4) switch
                {
                    0 => TestNative.CreateMemfd(random.Next(3) * 4096),
                    1 => PipeReadEnd(),
                    _ => TestNative.CreateEventFd(),
                };
            }

            stats.DescriptorsPassed += fds.Length;
            return fds;
        }

        /// <summary>The read end of a pipe whose write end is already closed: a descriptor of the wrong kind.</summary>
        private static int PipeReadEnd()
        {
            var (read, write) = TestNative.CreatePipe();
            LibC.CloseFd(write);
            return read;
        }

        private void Request(VhostUserRequest request, ReadOnlySpan<byte> payload, bool needReply, bool expectReply, ReadOnlySpan<int> fds = default)
        {
            if (_closed)
            {
                return;
            }

            var flags = VhostUserHeader.Version | (needReply ? VhostUserHeader.NeedReplyFlag : 0);
            VhostUserCodec.WriteHeader(_buffer, new VhostUserHeader(request, flags, (uint)payload.Length));
            payload.CopyTo(_buffer.AsSpan(VhostUserHeader.Length));
            Send(_buffer.AsSpan(0, VhostUserHeader.Length + payload.Length), fds);
            if (expectReply && !_closed && connection.Receive(_reply) != VhostUserReceiveStatus.Message)
            {
                _closed = true;
                stats.ClosedByRelay++;
            }

            _reply.CloseFds();
        }

        private void Send(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds)
        {
            stats.Sent++;
            if (!connection.Send(bytes, fds))
            {
                // The relay refused the session and closed it: what it should do with garbage.
                _closed = true;
                stats.ClosedByRelay++;
            }
        }
    }
}

[CollectionDefinition(nameof(ControlFuzzTests), DisableParallelization = true)]
public sealed class ControlFuzzCollection;
