using System.Security.Cryptography;

namespace CloonixActors.Host;

/// <summary>The cluster's shared secret: made at first start in STATE_DIR/secret, readable by root only.</summary>
public static class SecretFile
{
    public const string FileName = "secret";

    public static string LoadOrCreate(string stateDir)
    {
        var path = Path.Combine(stateDir, FileName);
        if (File.Exists(path))
        {
            return Read(path);
        }

        Directory.CreateDirectory(stateDir);
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        // Created with mode 0600 from the start: never world-readable, not even for a moment.
        using (var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(secret + "\n");
        }

        return secret;
    }

    public static string Read(string path)
    {
        var secret = File.ReadAllText(path).Trim();
        if (secret.Length < 16)
        {
            throw new InvalidDataException($"secret file {path} holds no usable secret");
        }

        return secret;
    }
}
