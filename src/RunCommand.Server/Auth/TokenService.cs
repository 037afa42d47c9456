using System.Security.Cryptography;
using System.Text;
using RunCommand.Server.Hosting;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// Bearer tokens: random, 256 bits, shown once (written 0600 to a file or returned to an enrolling agent),
/// stored only as SHA-256 hashes and compared in constant time.
/// </summary>
public sealed class TokenService
{
    public const string AdminPurpose = "admin";
    public const string EnrollPurpose = "enroll";

    private readonly IIdentityStore _store;
    private byte[]? _adminHash;
    private byte[]? _enrollHash;

    public TokenService(IIdentityStore store)
    {
        _store = store;
    }

    public static string NewToken(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>
    /// Makes sure the admin and enrollment tokens exist: a token file that is missing (first start, or removed by
    /// the operator to rotate it) gets a new token, whose hash replaces the stored one.
    /// </summary>
    public async Task EnsureWellKnownTokensAsync(DataDirectory dataDir, CancellationToken cancellationToken)
    {
        _adminHash = await EnsureAsync(AdminPurpose, dataDir.AdminTokenFile, "rca_", cancellationToken);
        _enrollHash = await EnsureAsync(EnrollPurpose, dataDir.EnrollTokenFile, "rce_", cancellationToken);
    }

    private async Task<byte[]> EnsureAsync(string purpose, string file, string prefix, CancellationToken cancellationToken)
    {
        var stored = await _store.GetTokenHashAsync(purpose, cancellationToken);
        if (File.Exists(file))
        {
            var hash = Hash(File.ReadAllText(file).Trim());
            if (stored is not null && CryptographicOperations.FixedTimeEquals(stored, hash))
            {
                return stored;
            }
        }

        var token = NewToken(prefix);
        SecureFile.WriteAllText(file, token + "\n");
        var fresh = Hash(token);
        await _store.SetTokenHashAsync(purpose, fresh, cancellationToken);
        return fresh;
    }

    public bool IsAdmin(string token) => Matches(_adminHash, token);

    public bool IsEnrollment(string token) => Matches(_enrollHash, token);

    private static bool Matches(byte[]? expected, string token) =>
        expected is not null && CryptographicOperations.FixedTimeEquals(expected, Hash(token));
}
