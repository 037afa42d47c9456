using System.Runtime.InteropServices;

namespace RunCommand.Cli.Config;

/// <summary>
/// The trust anchors of the <c>runcmd</c> process. When the login names the server's certificate (<c>--ca-cert</c>:
/// the server's own self-signed certificate, or the CA that issued it), that certificate becomes the process's only
/// trust anchor, so a handshake never reads the system trust store.
/// </summary>
/// <remarks>
/// Why: .NET's TLS client on Linux builds every server chain against the system store, even when the caller's chain
/// policy trusts a custom root only (OpenSslX509ChainProcessor loads the machine collections unconditionally), and
/// loading <c>/etc/ssl/certs</c> (the bundle plus each file of the directory, ~600 certificate parses) cost about 55 ms
/// of CPU in every fresh CLI process: most of a 63 ms <c>runcmd vm run-command show</c> (docs/performance.md item 10).
/// The runtime reads where the store is (<c>SSL_CERT_FILE</c>, <c>SSL_CERT_DIR</c>) with <c>getenv</c> at the first
/// chain it builds, so setting them before that names the configured certificate as the whole store.
/// <para>
/// What is trusted then: the configured certificate itself, whatever host name reached it
/// (<see cref="Client.CertificateTrust"/> compares the presented certificate byte for byte), or a certificate that
/// chains to it and matches the host name. A server certificate the system would trust but that is not (and does not
/// chain to) the configured one is refused; logging in again without <c>--ca-cert</c> trusts the system store. Without a
/// configured certificate nothing changes. Only the <c>runcmd</c> process itself narrows its trust
/// (<see cref="Enable"/>, called by Program): a host that runs <see cref="CliApp"/> in process keeps its own.
/// </para>
/// </remarks>
internal static partial class ProcessTrust
{
    private static bool s_enabled;

    /// <summary>Lets <see cref="TrustOnly"/> change this process's trust anchors; the runcmd executable calls it at start.</summary>
    public static void Enable() => s_enabled = true;

    /// <summary>
    /// Makes <paramref name="certificatePath"/> the only trust anchor of this process, if <see cref="Enable"/> was
    /// called; must run before the first TLS handshake (the runtime reads the store once and keeps it).
    /// </summary>
    public static void TrustOnly(string certificatePath)
    {
        if (!s_enabled)
        {
            return;
        }

        // An empty SSL_CERT_DIR names no directory (and is not the default one, which the runtime would fall back to).
        if (SetEnv("SSL_CERT_FILE", Path.GetFullPath(certificatePath), 1) != 0 || SetEnv("SSL_CERT_DIR", "", 1) != 0)
        {
            throw new InvalidOperationException("setenv failed: " + Marshal.GetLastPInvokeErrorMessage());
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
