using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace RunCommand.Contracts.Agents;

/// <summary>
/// The agent's key-based credential (docs/agent-protocol.md): <c>rck1.&lt;base64url(payload)&gt;.&lt;base64url(signature)&gt;</c>,
/// where the payload is the UTF-8 text <c>&lt;vmResourceId&gt;|&lt;unix seconds&gt;|&lt;nonce&gt;</c> and the signature is
/// ECDSA P-256 with SHA-256 over the payload bytes, in IEEE P1363 form (r || s, 64 bytes). The nonce (16 random bytes,
/// base64url) makes every assertion unique, so the server can refuse one it has seen before (a replay).
/// </summary>
public static class AgentAssertion
{
    public const string Prefix = "rck1.";

    /// <summary>How far an assertion's time may be from the server's clock, either way.</summary>
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(5);

    /// <summary>Length of a nonce in characters (16 random bytes, base64url without padding).</summary>
    public const int NonceLength = 22;

    /// <summary>Makes a new P-256 key pair.</summary>
    public static ECDsa NewKey() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>Signs a new assertion, with a fresh nonce, that this key speaks for <paramref name="vmResourceId"/> at <paramref name="now"/>.</summary>
    public static string Create(ECDsa key, string vmResourceId, DateTimeOffset now)
    {
        var nonce = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        var payload = Encoding.UTF8.GetBytes(vmResourceId + "|" + now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + "|" + nonce);
        var signature = key.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return Prefix + Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>
    /// Splits an assertion into its claimed resource id, time, and the signed bytes (which hold the nonce); false when it
    /// is not well formed, a nonce missing or malformed included (the signature is not checked here: see <see cref="Verify"/>).
    /// </summary>
    public static bool TryParse(string token, out string vmResourceId, out DateTimeOffset issued, out byte[] payload, out byte[] signature)
    {
        vmResourceId = "";
        issued = default;
        payload = [];
        signature = [];
        if (!token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = token[Prefix.Length..].Split('.');
        if (parts.Length != 2 || parts[0].Length is 0 or > 4096 || parts[1].Length is 0 or > 256)
        {
            return false;
        }

        try
        {
            payload = Base64Url.DecodeFromChars(parts[0]);
            signature = Base64Url.DecodeFromChars(parts[1]);
        }
        catch (FormatException)
        {
            return false;
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(payload);
        }
        catch (ArgumentException)
        {
            return false;
        }

        var nonceBar = text.LastIndexOf('|');
        if (nonceBar <= 0 || text.Length - nonceBar - 1 != NonceLength || !Base64Url.IsValid(text.AsSpan(nonceBar + 1)))
        {
            return false;
        }

        text = text[..nonceBar];
        var bar = text.LastIndexOf('|');
        if (bar <= 0 || !long.TryParse(text.AsSpan(bar + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }

        vmResourceId = text[..bar];
        issued = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }

    /// <summary>True when <paramref name="signature"/> over <paramref name="payload"/> verifies with this P-256 public key (SubjectPublicKeyInfo DER).</summary>
    public static bool Verify(byte[] publicKey, byte[] payload, byte[] signature)
    {
        try
        {
            using var key = ImportPublicKey(publicKey);
            return key is not null && key.VerifyData(payload, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>Reads a SubjectPublicKeyInfo; null unless it is exactly one ECDSA P-256 public key.</summary>
    public static ECDsa? ImportPublicKey(byte[] subjectPublicKeyInfo)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out var read);
            var curve = key.ExportParameters(false).Curve.Oid;
            if (read != subjectPublicKeyInfo.Length || key.KeySize != 256
                || !(curve.Value == "1.2.840.10045.3.1.7" || curve.FriendlyName is "nistP256" or "ECDSA_P256"))
            {
                key.Dispose();
                return null;
            }

            return key;
        }
        catch (CryptographicException)
        {
            key.Dispose();
            return null;
        }
    }
}
