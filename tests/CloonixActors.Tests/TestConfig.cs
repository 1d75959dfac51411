using Akka.Configuration;

namespace CloonixActors.Tests;

/// <summary>The project's own HOCON, as the daemon loads it: hocon/*.conf is copied next to this assembly.</summary>
internal static class TestConfig
{
    /// <remarks>
    /// Remoting here runs without TLS: these specs test actor logic between in-process systems that hold no
    /// certificates. Every daemon and client of the integration tests runs the TLS path (base.conf's default).
    /// </remarks>
    public static Config Base { get; } = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = off").WithFallback(Load("base.conf"));

    public static Config Load(string file) =>
        ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hocon", file)));

    /// <summary>base.conf with the in-memory journal and snapshot store, for persistent actors.</summary>
    public static Config InMemoryPersistence { get; } = ConfigurationFactory.ParseString("""
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """).WithFallback(Base);
}
