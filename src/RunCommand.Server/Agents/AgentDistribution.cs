using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RunCommand.Server.Agents;

/// <summary>
/// The agent builds this server hands out and what its installer needs to know about the server: the builds come from
/// the directory the server was packaged with (<c>--agent-binaries-dir</c>), never from the internet.
/// </summary>
public sealed class AgentDistribution(string? binariesDirectory, X509Certificate2? certificate)
{
    /// <summary>The builds packaging/build.sh makes: NativeAOT per architecture, and self-contained ones for older glibc.</summary>
    public static readonly IReadOnlyList<string> Platforms = ["linux-x64", "linux-arm64", "linux-x64-compat", "linux-arm64-compat"];

    public const string BinaryName = "runcmd-agent";

    public string? BinariesDirectory { get; } = binariesDirectory;

    /// <summary>SHA-256 of the server's certificate (hex), what the agent's <c>--server-fingerprint</c> takes; null on http.</summary>
    public string? ServerFingerprint { get; } = certificate?.GetCertHashString(HashAlgorithmName.SHA256);

    /// <summary>The agent binary for <paramref name="platform"/>, or null when this server was not packaged with it.</summary>
    public string? BinaryFor(string platform)
    {
        if (BinariesDirectory is null || !Platforms.Contains(platform))
        {
            return null;
        }

        var path = Path.Combine(BinariesDirectory, platform, BinaryName);
        return File.Exists(path) ? path : null;
    }
}
