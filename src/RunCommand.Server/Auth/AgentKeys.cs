using System.Collections.Concurrent;
using System.Security.Cryptography;
using RunCommand.Contracts.Agents;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// Per node, the machine and public key last read for each machine an agent speaks for, the key imported once: importing
/// (and checking the curve of) a SubjectPublicKeyInfo costs OpenSSL about as much as the signature check itself, and
/// reading the machine costs a read transaction, on every agent request. An entry may be stale (the machine revoked or
/// enrolled again on another node): it is only ever used with the store's check at the assertion's first use
/// (<see cref="AgentAssertionReplay"/>: the use is recorded only while the machine still holds this very key), and a
/// signature that does not verify with it makes the caller read the store again (<see cref="BearerAuthentication"/>).
/// </summary>
public sealed class AgentKeys
{
    /// <summary>Beyond this many machines the cache starts over (machines revoked or re-keyed leave entries).</summary>
    private const int MaxEntries = 200_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The entry kept for the machine with this key (<see cref="VmKey.Key"/>, lower case), or null.</summary>
    public Entry? Find(string vmKey) => _entries.TryGetValue(vmKey, out var entry) ? entry : null;

    /// <summary>
    /// Keeps <paramref name="vm"/> and <paramref name="publicKey"/> as just read from the store and answers their entry
    /// (the key imported again only when its bytes changed); null when the key cannot be imported.
    /// </summary>
    public Entry? Remember(VmRecord vm, byte[] publicKey)
    {
        var vmKey = vm.Vm.Key;
        ECDsa? imported;
        if (_entries.TryGetValue(vmKey, out var kept) && kept.PublicKey.AsSpan().SequenceEqual(publicKey))
        {
            imported = kept.Key;
        }
        else if ((imported = AgentAssertion.ImportPublicKey(publicKey)) is null)
        {
            return null;
        }

        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        // A replaced entry's key is left to the finalizer: another request may be verifying with it right now.
        var entry = new Entry(vm, publicKey, imported);
        _entries[vmKey] = entry;
        return entry;
    }

    /// <summary>Drops <paramref name="entry"/> (its machine no longer holds its key), unless it was replaced meanwhile.</summary>
    public void Forget(Entry entry) => _entries.TryRemove(KeyValuePair.Create(entry.Vm.Vm.Key, entry));

    /// <summary>Drops whatever is kept for the machine with this key (the store has no key for it).</summary>
    public void Forget(string vmKey) => _entries.TryRemove(vmKey, out _);

    /// <summary>True when <paramref name="signature"/> (IEEE P1363) over <paramref name="payload"/> verifies with the entry's key.</summary>
    public static bool Verify(Entry entry, byte[] payload, byte[] signature)
    {
        // One check at a time per key (an ECDsa object is not documented as safe for concurrent use); one machine's
        // requests rarely overlap.
        lock (entry.Key)
        {
            try
            {
                return entry.Key.VerifyData(payload, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            }
            catch (CryptographicException)
            {
                return false;
            }
        }
    }

    /// <summary>A machine as read from the store, the public key its agent enrolled with, and that key imported.</summary>
    public sealed record Entry(VmRecord Vm, byte[] PublicKey, ECDsa Key);
}
