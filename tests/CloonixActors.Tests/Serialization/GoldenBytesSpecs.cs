using Akka.Serialization;
using CloonixActors.Protocol.Wire;
using Xunit.Abstractions;

namespace CloonixActors.Tests.Serialization;

/// <summary>
/// Journals and snapshot stores written by earlier builds must stay readable. For every persisted type,
/// Golden/&lt;full type name&gt;.hex holds the Hyperion bytes of its sample in <see cref="MessageSamples"/> as
/// written when the type was introduced; Hyperion writes type names into those bytes, so renaming or moving
/// a persisted type, or changing its shape incompatibly, fails here.
/// <para>
/// To add the file of a NEW persisted type (never to "fix" an existing one), run once with
/// <c>CLOONIX_UPDATE_GOLDEN=1 dotnet test tests/CloonixActors.Tests --filter GoldenBytesSpecs</c>:
/// it writes missing files into tests/CloonixActors.Tests/Golden/ (existing files are rewritten only
/// with <c>CLOONIX_UPDATE_GOLDEN=all</c>). Commit the new file with the type.
/// </para>
/// </summary>
public sealed class GoldenBytesSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(TestConfig.Base, "golden", output)
{
    private const string UpdateVariable = "CLOONIX_UPDATE_GOLDEN";

    public static TheoryData<Type> PersistedTypes => MessageSamples.PersistedTypeData;

    [Theory]
    [MemberData(nameof(PersistedTypes))]
    public void Golden_bytes_of_every_persisted_type_deserialize_to_its_sample(Type type)
    {
        var sample = MessageSamples.For(type);
        var serializer = Assert.IsType<ProtocolHyperionSerializer>(Sys.Serialization.FindSerializerFor(sample));
        var file = GoldenFile(type);
        var update = Environment.GetEnvironmentVariable(UpdateVariable);
        if (update == "all" || (update == "1" && !File.Exists(file)))
        {
            File.WriteAllText(file, Convert.ToHexString(serializer.ToBinary(sample)) + "\n");
            Output?.WriteLine($"wrote {file}");
        }

        Assert.True(File.Exists(file), $"{file} is missing: see {nameof(GoldenBytesSpecs)} to create it for a new persisted type");
        var bytes = Convert.FromHexString(File.ReadAllText(file).Trim());

        var back = serializer.FromBinary(bytes, type);

        Assert.IsType(type, back);
        Structural.AssertEqual(sample, back);
    }

    [Fact]
    public void Every_golden_file_belongs_to_a_persisted_type()
    {
        var known = MessageSamples.PersistedTypes.Select(t => Path.GetFileName(GoldenFile(t))).ToHashSet(StringComparer.Ordinal);

        var orphans = Directory.EnumerateFiles(GoldenDirectory, "*.hex").Select(Path.GetFileName).Where(f => !known.Contains(f!));

        Assert.Empty(orphans);
    }

    /// <summary>The source folder, so that an update lands in the repository, not in bin/.</summary>
    private static string GoldenDirectory { get; } = FindGoldenDirectory();

    internal static string GoldenFile(Type type) => Path.Combine(GoldenDirectory, type.FullName + ".hex");

    private static string FindGoldenDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CloonixActors.Tests.csproj")))
            {
                return Path.Combine(dir.FullName, "Golden");
            }
        }

        throw new DirectoryNotFoundException($"no CloonixActors.Tests.csproj above {AppContext.BaseDirectory}");
    }
}
