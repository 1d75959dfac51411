using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.TestKit;
using CloonixActors.Domain;
using CloonixActors.Protocol;
using CloonixActors.Relay.Capture;
using CloonixActors.Relay.Engine;
using CloonixActors.Relay.Impairment;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Actors;

public sealed class SpyActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "spy", output)
{
    private static readonly NodeSpec Vm = new("vm1", 5, NodeKind.Vm, [NicKind.Spyable], new VmSpec(256, 1, "tiny"));
    private readonly List<FakeRelay> _relays = [];

    private (IActorRef Spy, TestProbe Parent, TestProbe Events) Start(RelayFactory? factory = null)
    {
        var parent = CreateTestProbe();
        var events = CreateTestProbe();
        var spy = parent.ChildActorOf(SpyActor.Props("h1", Vm, 0, RelayNode.Vm("/nonexistent/s0.sock"), factory ?? Factory, events.Ref));
        return (spy, parent, events);
    }

    private IRelay Factory(string name, RelayNode node, string lanTap)
    {
        Assert.Equal(OsNames.SpyPort(5, 0), lanTap);
        var relay = new FakeRelay();
        lock (_relays)
        {
            _relays.Add(relay);
        }

        return relay;
    }

    private FakeRelay Relay(int i)
    {
        AwaitCondition(() =>
        {
            lock (_relays)
            {
                return _relays.Count > i;
            }
        }, TimeSpan.FromSeconds(5));
        lock (_relays)
        {
            return _relays[i];
        }
    }

    [Fact]
    public void The_relay_starts_the_lan_port_is_re_created_and_counters_are_published_every_second()
    {
        var (_, parent, events) = Start();
        var ready = parent.ExpectMsg<NodeReady>();
        Assert.Equal(["cxa5s0"], ready.Recreated);
        var relay = Relay(0);
        Assert.True(relay.Started);

        relay.Counters.CountIn(100);
        relay.Counters.CountOut(60);
        var published = events.FishForMessage<Publish>(p => p.Message is NicTraffic { PacketsIn: 1 }, TimeSpan.FromSeconds(3));
        Assert.Equal(SpyActor.TrafficTopic, published.Topic);
        var traffic = (NicTraffic)published.Message;
        Assert.Equal(("h1", "vm1", 0, 100L, 60L), (traffic.Host, traffic.Node, traffic.Nic, traffic.BytesIn, traffic.BytesOut));
    }

    [Fact]
    public void A_relay_still_being_made_when_the_spy_stops_is_disposed_of_once_it_exists()
    {
        using var made = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        // The relay is made on the thread pool: this factory holds it there until the spy has stopped.
        var (spy, parent, _) = Start((name, node, tap) =>
        {
            made.Set();
            Assert.True(go.Wait(TimeSpan.FromSeconds(10)));
            return Factory(name, node, tap);
        });
        Assert.True(made.Wait(TimeSpan.FromSeconds(5)));
        Watch(spy);
        Sys.Stop(spy);
        ExpectTerminated(spy);

        go.Set();
        var relay = Relay(0);
        AwaitCondition(() => relay.Disposed, TimeSpan.FromSeconds(5));
        Assert.True(relay.Started);
        parent.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void An_impairment_that_arrives_while_the_relay_is_being_made_is_on_it_once_it_runs()
    {
        using var go = new ManualResetEventSlim();
        var (spy, parent, _) = Start((name, node, tap) =>
        {
            Assert.True(go.Wait(TimeSpan.FromSeconds(10)));
            return Factory(name, node, tap);
        });
        spy.Tell(new ApplyImpairment(0, ImpairmentSpec.None, new ImpairmentSpec(0, 0, 5, 0), TestActor));
        ExpectMsg<CommandSucceeded>();

        go.Set();
        parent.ExpectMsg<NodeReady>();
        var relay = Relay(0);
        Assert.Equal(new ImpairmentSettings(0, 0, 5, 0), relay.Outbound);
        Assert.Null(relay.Inbound);
    }

    [Fact]
    public void A_failed_relay_is_replaced_with_its_impairment_and_the_totals_carry_on()
    {
        var (spy, parent, events) = Start();
        parent.ExpectMsg<NodeReady>();
        var first = Relay(0);
        spy.Tell(new ApplyImpairment(0, new ImpairmentSpec(10, 0, 0, 0), ImpairmentSpec.None, TestActor));
        ExpectMsg<CommandSucceeded>();
        Assert.Equal(new ImpairmentSettings(10, 0, 0, 0), first.Inbound);
        first.Counters.CountIn(500);

        first.Fail(new InvalidOperationException("boom"));

        parent.ExpectMsg<NodeReady>(TimeSpan.FromSeconds(5));
        var second = Relay(1);
        Assert.True(first.Disposed);
        Assert.True(second.Started);
        Assert.Equal(new ImpairmentSettings(10, 0, 0, 0), second.Inbound);
        Assert.Null(second.Outbound);
        var traffic = (NicTraffic)events.FishForMessage<Publish>(p => p.Message is NicTraffic { RelayRestarts: 1 }, TimeSpan.FromSeconds(3)).Message;
        Assert.Equal(500, traffic.BytesIn);
    }

    [Fact]
    public void A_capture_takes_its_stop_and_acknowledgements_from_its_reader_only()
    {
        var (spy, parent, _) = Start();
        parent.ExpectMsg<NodeReady>();
        var relay = Relay(0);
        var receiver = CreateTestProbe();
        var reader = CreateTestProbe();
        spy.Tell(new StartCapture("vm1", 0, receiver.Ref, reader.Ref));
        var started = ExpectMsg<CaptureStarted>();

        // Someone else (here: the test, and the proxy that receives the stream) stops it: nothing happens.
        started.Session.Tell(new StopCapture(), TestActor);
        started.Session.Tell(new StopCapture(), receiver.Ref);
        receiver.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        Assert.NotNull(relay.Capture);

        started.Session.Tell(new StopCapture(), reader.Ref);
        receiver.FishForMessage<CaptureStopped>(_ => true, TimeSpan.FromSeconds(5));
        Assert.Null(relay.Capture);
    }

    [Fact]
    public void A_capture_goes_to_the_receiver_and_its_summary_counts_what_the_relay_saw_meanwhile()
    {
        var (spy, parent, _) = Start();
        parent.ExpectMsg<NodeReady>();
        var relay = Relay(0);
        relay.Counters.CountIn(10);
        var receiver = CreateTestProbe();

        spy.Tell(new StartCapture("vm1", 0, receiver.Ref));
        var started = ExpectMsg<CaptureStarted>();
        var sink = Assert.IsType<PcapSink>(relay.Capture);
        sink.Offer(DateTimeOffset.UtcNow, new byte[60]);
        relay.Counters.CountOut(60);
        spy.Tell(new StartCapture("vm1", 0, receiver.Ref));
        Assert.Contains("already being captured", ExpectMsg<CommandFailed>().Message, StringComparison.Ordinal);

        started.Session.Tell(new StopCapture(), receiver.Ref);
        var header = receiver.ExpectMsg<CaptureChunk>();
        Assert.Equal(1, header.Sequence);
        var stopped = receiver.FishForMessage<CaptureStopped>(_ => true, TimeSpan.FromSeconds(5));
        Assert.Equal((1L, 0L, 1L), (stopped.Frames, stopped.Dropped, stopped.Counted));
        Assert.Null(relay.Capture);
    }

    private sealed class FakeRelay : IRelay
    {
        public event Action<Exception>? Faulted;

        public TrafficCounters Counters { get; } = new();

        public bool Started { get; private set; }

        public bool Disposed { get; private set; }

        public PcapSink? Capture { get; private set; }

        public ImpairmentSettings? Outbound { get; private set; }

        public ImpairmentSettings? Inbound { get; private set; }

        public void Start() => Started = true;

        public TrafficSnapshot SwapCapture(PcapSink? sink)
        {
            Capture = sink;
            return Counters.Snapshot();
        }

        public void SetImpairment(ImpairmentSettings? outbound, ImpairmentSettings? inbound) => (Outbound, Inbound) = (outbound, inbound);

        public void FailForTest() => Fail(new InvalidOperationException("injected"));

        public void Fail(Exception ex) => Faulted?.Invoke(ex);

        public void Dispose() => Disposed = true;
    }
}
