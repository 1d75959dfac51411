using CloonixActors.Relay.Capture;
using CloonixActors.Relay.Impairment;

namespace CloonixActors.Relay.Engine;

/// <summary>The relay of one s nic as its owner drives it; <see cref="RelayEngine"/> is the real one, actor tests give fakes.</summary>
public interface IRelay : IDisposable
{
    /// <summary>The forwarding thread died; the owner disposes this relay and makes a new one.</summary>
    event Action<Exception>? Faulted;

    TrafficCounters Counters { get; }

    void Start();

    /// <summary>Starts (or with null stops) a capture between two frames; returns the counters at that instant.</summary>
    TrafficSnapshot SwapCapture(PcapSink? sink);

    /// <summary>Impairs frames from the node ("out") and towards it ("in"); null: straight through.</summary>
    void SetImpairment(ImpairmentSettings? outbound, ImpairmentSettings? inbound);

    /// <summary>Fault injection: the forwarding thread throws at its next step.</summary>
    void FailForTest();
}
