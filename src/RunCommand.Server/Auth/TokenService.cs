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
    /// Makes sure the admin and enrollment tokens exist. The database holds their hashes, so every node that shares it
    /// accepts the same two tokens: the first node to start mints them (atomically: of two nodes starting at once on an
    /// empty database, one wins and the other uses the winner's) and writes them to its data dir. A later node never
    /// mints a competing one: it accepts the stored tokens (copy the files from the first node where they are needed).
    /// When the database lives in this data dir (<paramref name="databaseIsLocal"/>, SQLite), a missing file means the
    /// operator removed it to rotate the token: a new one replaces the stored one.
    /// </summary>
    public async Task EnsureWellKnownTokensAsync(DataDirectory dataDir, bool databaseIsLocal, ILogger logger, CancellationToken cancellationToken)
    {
        _adminHash = await EnsureAsync(AdminPurpose, dataDir.AdminTokenFile, "rca_", databaseIsLocal, logger, cancellationToken);
        _enrollHash = await EnsureAsync(EnrollPurpose, dataDir.EnrollTokenFile, "rce_", databaseIsLocal, logger, cancellationToken);
    }

    private async Task<byte[]> EnsureAsync(string purpose, string file, string prefix, bool databaseIsLocal, ILogger logger, CancellationToken cancellationToken)
    {
        var stored = await _store.GetTokenHashAsync(purpose, cancellationToken);
        var onFile = File.Exists(file) ? Hash(File.ReadAllText(file).Trim()) : null;
        if (stored is not null && onFile is not null && CryptographicOperations.FixedTimeEquals(stored, onFile))
        {
            return stored;
        }

        if (stored is not null && !databaseIsLocal)
        {
            // Another node bootstrapped this database: its token is the one; this node mints none.
            Log.WellKnownTokenFromDatabase(logger, purpose, file, onFile is not null);
            return stored;
        }

        // Checkpoint: the file is written (0600) before the hash is stored; dying in between leaves a file whose token
        // the database does not know, and the next start mints again.
        var token = NewToken(prefix);
        SecureFile.WriteAllText(file, token + "\n");
        var fresh = Hash(token);
        if (stored is not null)
        {
            await _store.SetTokenHashAsync(purpose, fresh, cancellationToken);
            return fresh;
        }

        var winner = await _store.SetTokenHashIfAbsentAsync(purpose, fresh, cancellationToken);
        if (!CryptographicOperations.FixedTimeEquals(winner, fresh))
        {
            // Another node started at the same moment and stored its token first: ours is void.
            File.Delete(file);
            Log.WellKnownTokenFromDatabase(logger, purpose, file, false);
        }

        return winner;
    }

    public bool IsAdmin(string token) => Matches(_adminHash, token);

    public bool IsEnrollment(string token) => Matches(_enrollHash, token);

    private static bool Matches(byte[]? expected, string token) =>
        expected is not null && CryptographicOperations.FixedTimeEquals(expected, Hash(token));
}
