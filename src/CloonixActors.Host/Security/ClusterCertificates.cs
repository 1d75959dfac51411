using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using CloonixActors.Domain;

namespace CloonixActors.Host.Security;

/// <summary>One party's own certificate (with its private key) and the cluster's authorities it trusts.</summary>
public sealed record TlsIdentity(X509Certificate2 Certificate, X509Certificate2Collection Authorities);

/// <summary>
/// The cluster's own certificate authority and the certificates it issues to hosts and users. Every
/// remoting connection, member to member and client to member, is mutual TLS: each side presents a
/// certificate and accepts the other's only when it chains to one of the authorities in ca.crt, never to
/// the machine's store. The files of a tls directory (PEM, private keys PKCS#8, all mode 0600):
/// ca.crt (one or more authorities: several while one replaces another), ca.key (only where certificates
/// are issued), host.crt/host.key (what cloonixd presents), client.crt/client.key (what cloonix presents).
/// </summary>
public static class ClusterCertificates
{
    public const string DirName = "tls";
    public const string CaCertFile = "ca.crt";
    public const string CaKeyFile = "ca.key";
    public const string HostRole = "host";
    public const string ClientRole = "client";

    /// <summary>How long an issued certificate lasts by default; the authority lasts ten years.</summary>
    public static readonly TimeSpan DefaultValidity = TimeSpan.FromDays(730);
    public static readonly TimeSpan AuthorityValidity = TimeSpan.FromDays(3650);

    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static string DirOf(string stateDir) => Path.Combine(stateDir, DirName);

    /// <summary>A new authority: ECDSA P-256, may sign end certificates only (path length 0).</summary>
    public static X509Certificate2 CreateAuthority(string commonName, DateTimeOffset? notBefore = null, TimeSpan? validity = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}, O=cloonix"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var from = notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5);
        using var made = request.CreateSelfSigned(from, from + (validity ?? AuthorityValidity));
        return Reload(made);
    }

    /// <summary>
    /// A certificate for a host or a user named <paramref name="name"/> (the project's name rules), signed by
    /// <paramref name="authority"/>. Good for both ends of a connection: Akka.Remote members accept and open
    /// connections alike.
    /// </summary>
    public static X509Certificate2 Issue(X509Certificate2 authority, string name, DateTimeOffset? notBefore = null, TimeSpan? validity = null)
    {
        if (Names.Problem(name, "certificate") is { } problem)
        {
            throw new ArgumentException(problem, nameof(name));
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}, O=cloonix"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuth), new Oid(ClientAuth)], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var from = notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5);
        var until = from + (validity ?? DefaultValidity);
        if (until > authority.NotAfter)
        {
            until = authority.NotAfter;
        }

        using var signed = request.Create(authority, from, until, RandomNumberGenerator.GetBytes(16));
        using var withKey = signed.CopyWithPrivateKey(key);
        return Reload(withKey);
    }

    /// <summary>
    /// `cloonix cert init`: a new authority, a host certificate for <paramref name="hostName"/> and a client
    /// certificate in <paramref name="dir"/>. Refuses to overwrite an authority already there.
    /// </summary>
    public static void Init(string dir, string hostName)
    {
        if (Names.Problem(hostName, "host") is { } problem)
        {
            throw new ArgumentException(problem, nameof(hostName));
        }

        if (File.Exists(Path.Combine(dir, CaCertFile)) || File.Exists(Path.Combine(dir, CaKeyFile)))
        {
            throw new IOException($"{dir} already holds a certificate authority (remove the directory to start a new cluster)");
        }

        CreateOwnerOnlyDirectory(dir);
        using var authority = CreateAuthority($"cloonix CA {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Save(authority, Path.Combine(dir, CaCertFile), Path.Combine(dir, CaKeyFile));
        using var host = Issue(authority, hostName);
        Save(host, CertPath(dir, HostRole), KeyPath(dir, HostRole));
        using var client = Issue(authority, hostName);
        Save(client, CertPath(dir, ClientRole), KeyPath(dir, ClientRole));
    }

    /// <summary>
    /// `cloonix cert issue`: certificates for <paramref name="name"/> signed by the authority in
    /// <paramref name="caDir"/>, written with ca.crt (never ca.key) into <paramref name="outDir"/>, a directory
    /// ready to be a tls directory elsewhere: a host's (host and client certificates) or a user's (client only).
    /// </summary>
    public static IReadOnlyList<string> IssueInto(string caDir, string name, string outDir, bool clientOnly, TimeSpan? validity = null)
    {
        if (Names.Problem(name, "certificate") is { } problem)
        {
            throw new ArgumentException(problem, nameof(name));
        }

        using var authority = LoadAuthorityWithKey(caDir);
        var roles = clientOnly ? new[] { ClientRole } : [HostRole, ClientRole];
        var written = new List<string>();
        foreach (var role in roles)
        {
            if (File.Exists(CertPath(outDir, role)) || File.Exists(KeyPath(outDir, role)))
            {
                throw new IOException($"{CertPath(outDir, role)} already exists (move it away to issue a new one)");
            }
        }

        CreateOwnerOnlyDirectory(outDir);
        var caOut = Path.Combine(outDir, CaCertFile);
        if (Path.GetFullPath(caOut) != Path.GetFullPath(Path.Combine(caDir, CaCertFile)))
        {
            WriteOwnerOnly(caOut, File.ReadAllText(Path.Combine(caDir, CaCertFile)), overwrite: true);
            File.SetUnixFileMode(caOut, OwnerOnly);
            written.Add(caOut);
        }

        foreach (var role in roles)
        {
            using var cert = Issue(authority, name, validity: validity);
            Save(cert, CertPath(outDir, role), KeyPath(outDir, role));
            written.Add(CertPath(outDir, role));
            written.Add(KeyPath(outDir, role));
        }

        return written;
    }

    /// <summary>
    /// What cloonixd presents, from STATE_DIR/tls. On a first start (no tls directory or an empty one) it
    /// makes a new authority and the host and client certificates, so a host on its own needs no set-up.
    /// A tls directory with an authority but no host certificate gets one issued when ca.key is there.
    /// </summary>
    public static TlsIdentity EnsureForHost(string stateDir, string hostName)
    {
        var dir = DirOf(stateDir);
        var hasCa = File.Exists(Path.Combine(dir, CaCertFile));
        var hasHost = File.Exists(CertPath(dir, HostRole));
        if (!hasCa && !hasHost)
        {
            Init(dir, hostName);
        }
        else if (hasCa && !hasHost && File.Exists(Path.Combine(dir, CaKeyFile)))
        {
            using var authority = LoadAuthorityWithKey(dir);
            foreach (var role in new[] { HostRole, ClientRole }.Where(r => !File.Exists(CertPath(dir, r))))
            {
                using var cert = Issue(authority, hostName);
                Save(cert, CertPath(dir, role), KeyPath(dir, role));
            }
        }

        return Load(dir, HostRole);
    }

    /// <summary>The certificate of <paramref name="role"/> (host or client) in a tls directory, and its authorities.</summary>
    public static TlsIdentity Load(string dir, string role)
    {
        var cert = CertPath(dir, role);
        var key = KeyPath(dir, role);
        var ca = Path.Combine(dir, CaCertFile);
        foreach (var file in new[] { ca, cert, key })
        {
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"no {file} (make the cluster's certificates with `cloonix cert init`, or copy a directory made by `cloonix cert issue`)");
            }
        }

        var authorities = LoadAuthorities(ca);
        X509Certificate2 own;
        try
        {
            // On Linux (OpenSSL) TLS takes a PEM-loaded key as it is; elsewhere it wants a PKCS#12-backed one.
            // The PKCS#12 round trip costs a short-lived client some 12 ms.
            var pem = X509Certificate2.CreateFromPemFile(cert, key);
            own = OperatingSystem.IsLinux() ? pem : ReloadAndDispose(pem);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidDataException($"{cert} with {key} is not a usable certificate and key: {ex.Message}", ex);
        }

        if (Validate(own, authorities) is { } problem)
        {
            own.Dispose();
            throw new InvalidDataException($"{cert}: {problem}");
        }

        return new TlsIdentity(own, authorities);
    }

    public static X509Certificate2Collection LoadAuthorities(string caFile)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(caFile);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidDataException($"{caFile} holds no usable certificate: {ex.Message}", ex);
        }

        if (authorities.Count == 0)
        {
            throw new InvalidDataException($"{caFile} holds no certificate");
        }

        return authorities;
    }

    /// <summary>
    /// Null when <paramref name="peer"/> chains to one of <paramref name="authorities"/> (and nothing else:
    /// the machine's trust store plays no part), is within its dates and may serve both ends of a connection;
    /// else what is wrong.
    /// </summary>
    public static string? Validate(X509Certificate2 peer, X509Certificate2Collection authorities, DateTime? at = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuth));
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuth));
        if (at is { } time)
        {
            chain.ChainPolicy.VerificationTime = time;
        }

        try
        {
            if (chain.Build(peer))
            {
                // An authority's own certificate is no identity: only end certificates it signed are.
                var root = chain.ChainElements[^1].Certificate;
                return chain.ChainElements.Count >= 2 && authorities.Find(X509FindType.FindByThumbprint, root.Thumbprint, false).Count == 1
                    ? null
                    : "is not signed by the cluster's certificate authority";
            }

            var status = chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct();
            return $"{peer.Subject} is refused: {string.Join(", ", status)}";
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    /// <summary>
    /// The remoting transport's check of every peer, both directions: Akka's own chain check trusts the
    /// machine's store, so this replaces it with <see cref="Validate"/> against the cluster's authorities.
    /// Refusals are logged at most once every ten seconds (a scanner must not fill the log).
    /// </summary>
    public static CertificateValidationCallback Validator(X509Certificate2Collection authorities)
    {
        long lastWarning = 0;
        return (certificate, _, peer, errors, log) =>
        {
            string? problem;
            if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            {
                problem = "presented no certificate";
            }
            else
            {
                problem = Validate(certificate, authorities);
            }

            if (problem is null)
            {
                return true;
            }

            var now = Environment.TickCount64;
            var last = Interlocked.Read(ref lastWarning);
            if ((last == 0 || now - last > 10_000) && Interlocked.CompareExchange(ref lastWarning, now, last) == last)
            {
                log?.Warning("refused a TLS peer {0}: {1}", Names.Printable(peer ?? "?"), problem);
            }

            return false;
        };
    }

    /// <summary>Akka.Remote's TLS: mutual, no host-name check (members are reached by address), our authorities only.</summary>
    public static DotNettySslSetup SslSetup(TlsIdentity identity) =>
        new(identity.Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, customValidator: Validator(identity.Authorities));

    public static string CertPath(string dir, string role) => Path.Combine(dir, role + ".crt");

    public static string KeyPath(string dir, string role) => Path.Combine(dir, role + ".key");

    /// <summary>Writes a certificate (PEM) and its private key (PKCS#8 PEM), both 0600, neither overwriting a file.</summary>
    public static void Save(X509Certificate2 certificate, string certPath, string keyPath)
    {
        using var key = certificate.GetECDsaPrivateKey() ?? throw new ArgumentException("the certificate has no ECDSA private key", nameof(certificate));
        WriteOwnerOnly(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n", overwrite: false);
        WriteOwnerOnly(certPath, certificate.ExportCertificatePem() + "\n", overwrite: false);
    }

    private static X509Certificate2 LoadAuthorityWithKey(string caDir)
    {
        var cert = Path.Combine(caDir, CaCertFile);
        var key = Path.Combine(caDir, CaKeyFile);
        if (!File.Exists(key))
        {
            throw new FileNotFoundException($"no {key}: certificates are issued where the authority was made (`cloonix cert init`)");
        }

        try
        {
            // ca.crt may list several authorities while one replaces another; the key says which one signs.
            using var pem = X509Certificate2.CreateFromPemFile(cert, key);
            return Reload(pem);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidDataException($"{cert} with {key} is not a usable authority: {ex.Message}", ex);
        }
    }

    private static X509Certificate2 ReloadAndDispose(X509Certificate2 certificate)
    {
        using (certificate)
        {
            return Reload(certificate);
        }
    }

    /// <summary>A copy whose key the TLS stack can use on every platform (a PEM-loaded key is ephemeral).</summary>
    private static X509Certificate2 Reload(X509Certificate2 certificate) =>
        certificate.HasPrivateKey
            ? X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable)
            : X509CertificateLoader.LoadCertificate(certificate.RawData);

    private static void CreateOwnerOnlyDirectory(string dir)
    {
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void WriteOwnerOnly(string path, string text, bool overwrite)
    {
        // Created with mode 0600 from the start: a private key is never readable by others, not even for a moment.
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = overwrite ? FileMode.Create : FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = OwnerOnly,
        });
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }
}
