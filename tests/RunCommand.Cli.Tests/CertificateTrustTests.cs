using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RunCommand.Client;

namespace RunCommand.Cli.Tests;

public sealed class CertificateTrustTests
{
    [Fact]
    public void IsTrusted_SameSelfSignedCertificate_Accepts()
    {
        using var server = SelfSigned("CN=server");
        using var pinned = X509CertificateLoader.LoadCertificate(server.RawData);

        Assert.True(CertificateTrust.IsTrusted(pinned, server, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void IsTrusted_OtherSelfSignedCertificate_Rejects()
    {
        using var server = SelfSigned("CN=server");
        using var other = SelfSigned("CN=other");

        Assert.False(CertificateTrust.IsTrusted(other, server, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void IsTrusted_CertificateIssuedByTrustedCa_Accepts()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var leafKey = RSA.Create(2048);
        var leafRequest = new CertificateRequest("CN=server", leafKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var leaf = leafRequest.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), [1, 2, 3, 4]);

        Assert.True(CertificateTrust.IsTrusted(ca, leaf, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(CertificateTrust.IsTrusted(ca, leaf, SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch));
    }

    [Fact]
    public void Load_PemFile_ReadsCertificate()
    {
        using var certificate = SelfSigned("CN=pem");
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, certificate.ExportCertificatePem());

            using var loaded = CertificateTrust.Load(path);

            Assert.Equal(certificate.Thumbprint, loaded.Thumbprint);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static X509Certificate2 SelfSigned(string subject)
    {
        using var key = ECDsa.Create();
        return new CertificateRequest(subject, key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }
}
