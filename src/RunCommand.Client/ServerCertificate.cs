using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RunCommand.Client;

/// <summary>The certificate a server presents, taken from a TLS handshake checked with the same trust as the client's.</summary>
public sealed record ServerCertificate(X509Certificate2 Certificate, bool TrustedBySystem)
{
    /// <summary>curl's <c>--pinnedpubkey</c> form: <c>sha256//</c> and the base64 SHA-256 of the certificate's public key info.</summary>
    public string PublicKeyPin => "sha256//" + Convert.ToBase64String(SHA256.HashData(Certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    /// <summary>
    /// Connects to <paramref name="server"/> (https) and returns the certificate it presents, if the system trusts it
    /// or it is (or chains to) <paramref name="caCertificatePath"/>; throws <see cref="System.Security.Authentication.AuthenticationException"/> otherwise.
    /// </summary>
    public static async Task<ServerCertificate> FetchAsync(Uri server, string? caCertificatePath, CancellationToken cancellationToken)
    {
        var trusted = caCertificatePath is null ? null : CertificateTrust.Load(caCertificatePath);
        X509Certificate2? presented = null;
        var systemTrusted = false;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, cancellationToken);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, errors) =>
        {
            if (certificate is null)
            {
                return false;
            }

            // A copy: the certificate handed to the callback belongs to the SslStream and dies with it.
            presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            systemTrusted = errors == SslPolicyErrors.None;
            return systemTrusted || (trusted is not null && CertificateTrust.IsTrusted(trusted, certificate, errors));
        });
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = server.IdnHost }, cancellationToken);
        return new ServerCertificate(presented!, systemTrusted);
    }
}
