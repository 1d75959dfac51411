using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using CloonixActors.Host.Security;

namespace CloonixActors.Tests.Security;

public sealed class ClusterCertificatesSpecs : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cxa-certs-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public void A_certificate_the_authority_issued_chains_to_it()
    {
        using var ca = ClusterCertificates.CreateAuthority("test CA");
        using var cert = ClusterCertificates.Issue(ca, "host1");

        Assert.Null(ClusterCertificates.Validate(cert, [ca]));
        Assert.True(cert.HasPrivateKey);
        Assert.Equal("CN=host1, O=cloonix", cert.Subject);
    }

    [Fact]
    public void A_certificate_of_another_authority_is_refused_even_with_the_same_name()
    {
        using var ours = ClusterCertificates.CreateAuthority("cloonix CA");
        using var theirs = ClusterCertificates.CreateAuthority("cloonix CA");
        using var foreign = ClusterCertificates.Issue(theirs, "host1");

        Assert.NotNull(ClusterCertificates.Validate(foreign, [ours]));
    }

    [Fact]
    public void A_self_signed_certificate_or_the_authority_itself_is_no_identity()
    {
        using var ca = ClusterCertificates.CreateAuthority("cloonix CA");
        using var self = ClusterCertificates.CreateAuthority("host1");

        Assert.NotNull(ClusterCertificates.Validate(self, [ca]));
        Assert.NotNull(ClusterCertificates.Validate(ca, [ca]));
    }

    [Fact]
    public void An_expired_or_not_yet_valid_certificate_is_refused()
    {
        using var ca = ClusterCertificates.CreateAuthority("cloonix CA", DateTimeOffset.UtcNow.AddDays(-30));
        using var expired = ClusterCertificates.Issue(ca, "old", DateTimeOffset.UtcNow.AddDays(-10), TimeSpan.FromDays(1));
        using var future = ClusterCertificates.Issue(ca, "new", DateTimeOffset.UtcNow.AddDays(10), TimeSpan.FromDays(30));

        Assert.Contains("NotTimeValid", ClusterCertificates.Validate(expired, [ca]), StringComparison.Ordinal);
        Assert.Contains("NotTimeValid", ClusterCertificates.Validate(future, [ca]), StringComparison.Ordinal);
        Assert.Null(ClusterCertificates.Validate(future, [ca], DateTime.UtcNow.AddDays(11)));
    }

    [Fact]
    public void An_issued_certificate_never_outlives_its_authority()
    {
        using var ca = ClusterCertificates.CreateAuthority("cloonix CA", validity: TimeSpan.FromDays(10));
        using var cert = ClusterCertificates.Issue(ca, "host1", validity: TimeSpan.FromDays(700));

        Assert.True(cert.NotAfter <= ca.NotAfter);
    }

    [Fact]
    public void Init_writes_every_file_owner_only_and_refuses_to_replace_an_authority()
    {
        ClusterCertificates.Init(_dir, "host1");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        var files = FileNames(_dir);
        Assert.Equal(["ca.crt", "ca.key", "client.crt", "client.key", "host.crt", "host.key"], files);
        foreach (var file in Directory.GetFiles(_dir))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        var before = File.ReadAllText(Path.Combine(_dir, "ca.key"));
        Assert.Throws<IOException>(() => ClusterCertificates.Init(_dir, "host1"));
        Assert.Equal(before, File.ReadAllText(Path.Combine(_dir, "ca.key")));
    }

    [Fact]
    public void The_host_and_client_certificates_load_and_chain_to_the_authority_in_ca_crt()
    {
        ClusterCertificates.Init(_dir, "host1");

        var host = ClusterCertificates.Load(_dir, ClusterCertificates.HostRole);
        var client = ClusterCertificates.Load(_dir, ClusterCertificates.ClientRole);

        Assert.True(host.Certificate.HasPrivateKey);
        Assert.NotEqual(host.Certificate.Thumbprint, client.Certificate.Thumbprint);
        Assert.Null(ClusterCertificates.Validate(client.Certificate, host.Authorities));
    }

    [Fact]
    public void Issue_writes_a_tls_dir_for_another_host_without_the_authority_key()
    {
        ClusterCertificates.Init(_dir, "host1");
        var other = Path.Combine(_dir, "host2");

        ClusterCertificates.IssueInto(_dir, "host2", other, clientOnly: false);

        Assert.Equal(["ca.crt", "client.crt", "client.key", "host.crt", "host.key"], FileNames(other));
        Assert.All(Directory.GetFiles(other), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        var host2 = ClusterCertificates.Load(other, ClusterCertificates.HostRole);
        Assert.Equal("CN=host2, O=cloonix", host2.Certificate.Subject);
        Assert.Null(ClusterCertificates.Validate(host2.Certificate, ClusterCertificates.Load(_dir, ClusterCertificates.HostRole).Authorities));
        Assert.Throws<IOException>(() => ClusterCertificates.IssueInto(_dir, "host2", other, clientOnly: false));
    }

    [Fact]
    public void A_user_certificate_is_a_client_certificate_only()
    {
        ClusterCertificates.Init(_dir, "host1");
        var user = Path.Combine(_dir, "alice");

        ClusterCertificates.IssueInto(_dir, "alice", user, clientOnly: true);

        Assert.Equal(["ca.crt", "client.crt", "client.key"], FileNames(user));
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("Alice")]
    [InlineData("a b")]
    [InlineData("")]
    [InlineData("averyveryverylongname")]
    public void A_bad_name_gets_no_certificate_and_no_file(string name)
    {
        ClusterCertificates.Init(_dir, "host1");
        var target = Path.Combine(_dir, "out");

        Assert.Throws<ArgumentException>(() => ClusterCertificates.IssueInto(_dir, name, target, clientOnly: true));
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public void Without_the_authority_key_nothing_is_issued()
    {
        ClusterCertificates.Init(_dir, "host1");
        var other = Path.Combine(_dir, "host2");
        ClusterCertificates.IssueInto(_dir, "host2", other, clientOnly: false);

        Assert.Throws<FileNotFoundException>(() => ClusterCertificates.IssueInto(other, "host3", Path.Combine(_dir, "host3"), clientOnly: false));
    }

    [Fact]
    public void A_ca_crt_with_two_authorities_accepts_both_while_one_replaces_the_other()
    {
        using var old = ClusterCertificates.CreateAuthority("old CA");
        using var replacement = ClusterCertificates.CreateAuthority("new CA");
        using var oldCert = ClusterCertificates.Issue(old, "host1");
        using var newCert = ClusterCertificates.Issue(replacement, "host1");
        Directory.CreateDirectory(_dir);
        var bundle = Path.Combine(_dir, "ca.crt");
        File.WriteAllText(bundle, old.ExportCertificatePem() + "\n" + replacement.ExportCertificatePem() + "\n");

        var authorities = ClusterCertificates.LoadAuthorities(bundle);

        Assert.Equal(2, authorities.Count);
        Assert.Null(ClusterCertificates.Validate(oldCert, authorities));
        Assert.Null(ClusterCertificates.Validate(newCert, authorities));
    }

    [Fact]
    public void The_transport_callback_refuses_a_missing_certificate_and_ignores_the_machine_store_verdict()
    {
        using var ca = ClusterCertificates.CreateAuthority("cloonix CA");
        using var ours = ClusterCertificates.Issue(ca, "host1");
        using var otherCa = ClusterCertificates.CreateAuthority("cloonix CA");
        using var theirs = ClusterCertificates.Issue(otherCa, "host1");
        var validator = ClusterCertificates.Validator([ca]);

        // The machine's store knows neither authority: Akka reports a chain error for both, ours included.
        Assert.True(validator(ours, null, "peer", SslPolicyErrors.RemoteCertificateChainErrors, null!));
        Assert.False(validator(theirs, null, "peer", SslPolicyErrors.RemoteCertificateChainErrors, null!));
        Assert.False(validator(null, null, "peer", SslPolicyErrors.RemoteCertificateNotAvailable, null!));
    }

    [Fact]
    public void EnsureForHost_makes_the_certificates_once_and_then_only_loads_them()
    {
        var first = ClusterCertificates.EnsureForHost(_dir, "host1");
        var again = ClusterCertificates.EnsureForHost(_dir, "host1");

        Assert.Equal(first.Certificate.Thumbprint, again.Certificate.Thumbprint);
        Assert.True(File.Exists(Path.Combine(_dir, "tls", "client.crt")));
    }

    [Fact]
    public void EnsureForHost_refuses_an_authority_without_a_host_certificate_or_its_key()
    {
        var tls = Path.Combine(_dir, "tls");
        Directory.CreateDirectory(tls);
        using var ca = ClusterCertificates.CreateAuthority("cloonix CA");
        File.WriteAllText(Path.Combine(tls, "ca.crt"), ca.ExportCertificatePem());

        var ex = Assert.Throws<FileNotFoundException>(() => ClusterCertificates.EnsureForHost(_dir, "host1"));
        Assert.Contains("host.crt", ex.Message, StringComparison.Ordinal);
    }

    private static string[] FileNames(string dir) => [.. Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
