using System.Collections.Concurrent;
using System.Security.Cryptography;
using RunCommand.Contracts.Agents;

namespace RunCommand.Server.Auth;

/// <summary>
/// Agents' public keys, imported once per key rather than once per request: importing (and checking the curve of) a
/// SubjectPublicKeyInfo costs OpenSSL about as much as the signature check itself, and every agent request is checked.
/// A key is known by its bytes, so a re-enrolled machine's new key is imported anew and its old one is never used again.
/// </summary>
public sealed class AgentKeys
{
    /// <summary>Beyond this many machines' keys the cache starts over (machines deleted or re-keyed leave entries).</summary>
    private const int MaxEntries = 200_000;

    private readonly ConcurrentDictionary<string, Entry> _keys = new(StringComparer.Ordinal);

    /// <summary>True when <paramref name="signature"/> (IEEE P1363) over <paramref name="payload"/> verifies with <paramref name="publicKey"/>.</summary>
    public bool Verify(string vm, byte[] publicKey, byte[] payload, byte[] signature)
    {
        if (!_keys.TryGetValue(vm, out var entry) || !entry.PublicKey.AsSpan().SequenceEqual(publicKey))
        {
            if (AgentAssertion.ImportPublicKey(publicKey) is not { } imported)
            {
                return false;
            }

            if (_keys.Count >= MaxEntries)
            {
                _keys.Clear();
            }

            // The replaced entry's key is left to the finalizer: another request may be verifying with it right now.
            entry = new Entry(publicKey, imported);
            _keys[vm] = entry;
        }

        // One check at a time per key (an ECDsa object is not documented as safe for concurrent use); one machine's
        // requests rarely overlap.
        lock (entry)
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

    private sealed record Entry(byte[] PublicKey, ECDsa Key);
}
