using System.Security.Cryptography;
using RunCommand.Storage;

namespace RunCommand.Server.Secrets;

/// <summary>
/// Every node that shares a database must seal and unseal with one key (<c>--secrets-key-file</c>): a node with
/// another key could not read the secrets the others sealed, and would seal some the others cannot read. The database
/// keeps a check value of the key (a keyed hash of a constant: it reveals nothing about the key); the first node
/// stores it, and a node whose key does not match, or that has no key file when the database already has a key,
/// refuses to start.
/// </summary>
public static class SecretsKeyCheck
{
    /// <summary>Where the check value is kept, beside the well-known tokens' hashes.</summary>
    public const string Purpose = "secrets-key-check";

    /// <summary>Null when this node may use the key in <paramref name="keyFile"/> (created when the database has none); else why not.</summary>
    public static async Task<string?> VerifyAsync(string keyFile, IIdentityStore store, CancellationToken cancellationToken)
    {
        var stored = await store.GetTokenHashAsync(Purpose, cancellationToken);
        if (stored is not null && !File.Exists(keyFile))
        {
            return $"the secrets key file '{keyFile}' does not exist, but this database's secrets are sealed with a key: "
                + "give this node a copy of the first node's key file (--secrets-key-file)";
        }

        var check = SecretProtector.FromKeyFile(keyFile).KeyCheck;
        var agreed = await store.SetTokenHashIfAbsentAsync(Purpose, check, cancellationToken);
        return CryptographicOperations.FixedTimeEquals(agreed, check)
            ? null
            : $"the secrets key in '{keyFile}' is not the key this database's secrets are sealed with: give every node a copy of the same key file (--secrets-key-file)";
    }
}
