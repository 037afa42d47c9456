using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RunCommand.Server.Secrets;

namespace RunCommand.Server.Hosting;

/// <summary>Files the server keeps in its data dir, and their first-start creation.</summary>
public sealed class DataDirectory
{
    public DataDirectory(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    public string DatabaseFile => System.IO.Path.Combine(Path, "runcommand.db");

    public string AdminTokenFile => System.IO.Path.Combine(Path, "admin.token");

    public string EnrollTokenFile => System.IO.Path.Combine(Path, "enroll.token");

    public string SecretsKeyFile => System.IO.Path.Combine(Path, "secrets.key");

    public string SubscriptionFile => System.IO.Path.Combine(Path, "subscription.id");

    public string TlsCertFile => System.IO.Path.Combine(Path, "tls.crt");

    public string TlsKeyFile => System.IO.Path.Combine(Path, "tls.key");

    /// <summary>
    /// Creates the directory mode 0700, and forces 0700 on one that already exists with looser modes (made by hand or by
    /// an older release): it holds the secrets key, tokens and the database.
    /// </summary>
    public void EnsureExists()
    {
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(Path, ownerOnly);
        if (File.GetUnixFileMode(Path) != ownerOnly)
        {
            File.SetUnixFileMode(Path, ownerOnly);
        }
    }

    /// <summary>The subscription GUID: the configured one, else the one kept here, else a new one.</summary>
    public string ResolveSubscription(string? configured)
    {
        if (configured is not null)
        {
            return Guid.Parse(configured).ToString();
        }

        if (File.Exists(SubscriptionFile) && Guid.TryParse(File.ReadAllText(SubscriptionFile).Trim(), out var kept))
        {
            return kept.ToString();
        }

        var created = Guid.NewGuid().ToString();
        SecureFile.WriteAllText(SubscriptionFile, created + "\n");
        return created;
    }

    /// <summary>Records the subscription this data dir's node serves (the one its database serves).</summary>
    public void KeepSubscription(string subscription) => SecureFile.WriteAllText(SubscriptionFile, subscription + "\n");

    /// <summary>
    /// Loads the certificate for https: the operator's files, or a self-signed one created here (for localhost,
    /// 127.0.0.1, ::1 and the host name) that clients trust with <c>--ca-cert tls.crt</c>.
    /// </summary>
    public X509Certificate2 LoadOrCreateCertificate(string? certFile, string? keyFile)
    {
        if (certFile is not null || keyFile is not null)
        {
            if (certFile is null || keyFile is null)
            {
                throw new InvalidOperationException("--tls-cert and --tls-key must be given together.");
            }

            return Exportable(X509Certificate2.CreateFromPemFile(certFile, keyFile));
        }

        if (!File.Exists(TlsCertFile) || !File.Exists(TlsKeyFile))
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN=RunCommand server ({Environment.MachineName})", key, HashAlgorithmName.SHA256);
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddDnsName(Environment.MachineName);
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            names.AddIpAddress(System.Net.IPAddress.IPv6Loopback);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));
            SecureFile.WriteAllText(TlsKeyFile, key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(TlsCertFile, certificate.ExportCertificatePem());
        }

        return Exportable(X509Certificate2.CreateFromPemFile(TlsCertFile, TlsKeyFile));
    }

    // Kestrel on Linux needs a certificate whose key is not ephemeral.
    private static X509Certificate2 Exportable(X509Certificate2 certificate)
    {
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }
}
