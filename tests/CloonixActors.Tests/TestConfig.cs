using Akka.Configuration;

namespace CloonixActors.Tests;

/// <summary>The project's own HOCON, as the daemon loads it: hocon/*.conf is copied next to this assembly.</summary>
internal static class TestConfig
{
    public static Config Base { get; } = Load("base.conf");

    public static Config Load(string file) =>
        ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hocon", file)));

    /// <summary>base.conf with the in-memory journal and snapshot store, for persistent actors.</summary>
    public static Config InMemoryPersistence { get; } = ConfigurationFactory.ParseString("""
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """).WithFallback(Base);
}
