using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace RunCommand.Client;

/// <summary>
/// Trusts one extra certificate besides the system store: the server's own (self-signed) certificate, or a CA that
/// issued it. Pinning the exact certificate accepts it whatever host name was used to reach it; a certificate that
/// only chains to the CA must also match the host name.
/// </summary>
public static class CertificateTrust
{
    /// <summary>Reads a PEM or DER certificate file.</summary>
    public static X509Certificate2 Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var text = System.Text.Encoding.ASCII.GetString(bytes);
        return text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
            ? X509Certificate2.CreateFromPem(text)
            : X509CertificateLoader.LoadCertificate(bytes);
    }

    /// <summary>A validation callback accepting what the system trusts, <paramref name="trusted"/> itself, or what chains to it.</summary>
    public static RemoteCertificateValidationCallback CreateValidator(X509Certificate2 trusted) =>
        (_, certificate, _, errors) => IsTrusted(trusted, certificate, errors);

    public static bool IsTrusted(X509Certificate2 trusted, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null)
        {
            return false;
        }

        var presented = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
        if (presented.RawDataMemory.Span.SequenceEqual(trusted.RawDataMemory.Span))
        {
            return true;
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(presented);
    }
}
