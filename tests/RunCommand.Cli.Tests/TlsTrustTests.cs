using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RunCommand.Client;

namespace RunCommand.Cli.Tests;

public sealed class TlsTrustTests : IDisposable
{
    private readonly string _pemPath = Path.GetTempFileName();

    [Fact]
    public async Task ListSubscriptions_ServerSelfSignedAndCaCertGiven_Succeeds()
    {
        using var certificate = SelfSignedFor127();
        await File.WriteAllTextAsync(_pemPath, certificate.ExportCertificatePem());
        await using var server = await FakeArmServer.StartAsync(
            (context, _) => FakeArmServer.WriteJsonAsync(context, 200, """{"value":[{"subscriptionId":"s1"}]}"""), certificate);
        using var client = new RunCommandClient(new RunCommandClientOptions { Server = server.Url, Token = "t", CaCertificatePath = _pemPath });

        var subscription = await client.GetDefaultSubscriptionAsync();

        Assert.Equal("s1", subscription.SubscriptionId);
    }

    [Fact]
    public async Task ListSubscriptions_ServerSelfSignedAndNoCaCert_SaysTlsFailedAndHowToFix()
    {
        using var certificate = SelfSignedFor127();
        await using var server = await FakeArmServer.StartAsync(
            (context, _) => FakeArmServer.WriteJsonAsync(context, 200, """{"value":[]}"""), certificate);
        using var client = new RunCommandClient(new RunCommandClientOptions { Server = server.Url, Token = "t" });

        var e = await Assert.ThrowsAsync<ServerUnreachableException>(() => client.ListSubscriptionsAsync());

        Assert.Contains("TLS handshake failed", e.Message);
        Assert.Contains("--ca-cert", e.Message);
    }

    public void Dispose() => File.Delete(_pemPath);

    private static X509Certificate2 SelfSignedFor127()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        // Re-import so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}
