using System.Text;
using Akka.Actor;
using CloonixActors.DataPlane;
using CloonixActors.Protocol;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Bounds;

/// <summary>Sizes measured with the project's serializer and frame size (base.conf), as remoting would.</summary>
public sealed class ReplyFrameSpecs : Akka.TestKit.Xunit2.TestKit
{
    private readonly ITestOutputHelper _output;

    public ReplyFrameSpecs(ITestOutputHelper output)
        : base(TestConfig.Base, "frame", output) => _output = output;

    private static TopologyListing Listing(int nodes) =>
        new(
            [.. Enumerable.Range(0, nodes).Select(i => new NodeView($"node{i}", "cnt", "host-a", $"cxa.host-a.node{i}", [.. Enumerable.Range(0, 8).Select(n => new NicView(n, "v", $"lan{i % 50}", $"cxa{i}x{n}", "delay 10ms loss 1%"))]))],
            [new LanView("lan0", "host-a", "cxab1", ["node0/eth0"])]);

    [Fact]
    public void The_frame_is_the_one_remoting_is_configured_with()
    {
        Assert.Equal(4L << 20, ReplyFrame.For(Sys).MaximumFrameSize);
    }

    [Fact]
    public void A_reply_that_fits_goes_as_it_is()
    {
        var listing = Listing(100);

        Assert.Same(listing, ReplyFrame.Fit(Sys, listing));
    }

    [Fact]
    public void A_listing_too_large_for_the_frame_becomes_one_clear_error()
    {
        var listing = Listing(20_000);
        var frame = ReplyFrame.For(Sys);
        Assert.True(frame.SizeOf(listing) > frame.MaximumFrameSize);

        var reply = Assert.IsType<CommandFailed>(ReplyFrame.Fit(Sys, listing));

        Assert.Equal(ErrorCode.Unavailable, reply.Code);
        Assert.StartsWith("the listing of 20000 node(s) and 1 lan segment(s) is ", reply.Message, StringComparison.Ordinal);
        Assert.Contains("more than the 4 MiB remoting frame", reply.Message, StringComparison.Ordinal);
        Assert.Contains("maximum-frame-size", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_largest_exec_reply_the_caps_allow_fits_the_frame()
    {
        // Worst case: both streams at the cap in three-byte characters (invalid bytes read as U+FFFD).
        var garbage = new byte[OutputCap.MaxBytes];
        Array.Fill(garbage, (byte)0xFF);
        var (stdout, stderr) = OutputCap.Finish(garbage, long.MaxValue, garbage, long.MaxValue);
        var reply = new ExecResult(ProcessRunner.TimedOutExitCode, stdout, stderr, true);

        var size = ReplyFrame.For(Sys).SizeOf(reply);

        _output.WriteLine($"largest exec reply: {size} bytes ({Encoding.UTF8.GetByteCount(stdout) + Encoding.UTF8.GetByteCount(stderr)} of text)");
        Assert.True(size <= ReplyFrame.For(Sys).Limit, $"{size} bytes");
        Assert.Same(reply, ReplyFrame.Fit(Sys, reply));
    }

    [Fact]
    public async Task A_routed_request_answers_the_client_an_error_instead_of_a_reply_remoting_would_drop()
    {
        var coordinator = CreateTestProbe();
        var client = CreateTestProbe();
        Sys.ActorOf(RoutedRequest.Props(coordinator, new Routed(new ListTopology(), "host-a", "r1"), client));
        await coordinator.ExpectMsgAsync<Routed>();

        coordinator.Reply(Listing(20_000));

        // Serializing ~10 MB to measure it takes a while on a loaded machine.
        var failed = await client.ExpectMsgAsync<CommandFailed>(TimeSpan.FromSeconds(30));
        Assert.Contains("more than the 4 MiB remoting frame", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_routed_request_passes_a_reply_that_fits_unchanged()
    {
        var coordinator = CreateTestProbe();
        var client = CreateTestProbe();
        Sys.ActorOf(RoutedRequest.Props(coordinator, new Routed(new ListTopology(), "host-a", "r2"), client));
        await coordinator.ExpectMsgAsync<Routed>();
        var listing = Listing(10);

        coordinator.Reply(listing);

        Assert.Same(listing, await client.ExpectMsgAsync<TopologyListing>());
    }
}
