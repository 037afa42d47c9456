using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using RunCommand.Contracts.Arm;

namespace RunCommand.Server.Secrets;

/// <summary>The secret part of a run command: sealed with AES-GCM before it reaches the database.</summary>
public sealed record SecretBundle
{
    public IReadOnlyList<RunCommandParameter> ProtectedParameters { get; init; } = [];

    public string? RunAsPassword { get; init; }

    /// <summary>Query (SAS token, without '?') of source.scriptUri; the spec keeps the URL without it. Null: none.</summary>
    public string? ScriptUriSas { get; init; }

    /// <summary>Query (SAS token, without '?') of outputBlobUri; the spec keeps the URL without it. Null: none.</summary>
    public string? OutputBlobSas { get; init; }

    /// <summary>Query (SAS token, without '?') of errorBlobUri; null when there is none.</summary>
    public string? ErrorBlobSas { get; init; }

    public bool IsEmpty => ProtectedParameters.Count == 0 && RunAsPassword is null && ScriptUriSas is null && OutputBlobSas is null && ErrorBlobSas is null;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SecretBundle))]
internal sealed partial class SecretJson : JsonSerializerContext;

/// <summary>
/// Seals secrets with a 256-bit key that lives only in the data dir (mode 0600) or a file the operator names.
/// Also computes keyed fingerprints, so a stored fingerprint reveals nothing about the secrets it covers.
/// </summary>
public sealed class SecretProtector
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;
    private readonly byte[] _fingerprintKey;

    public SecretProtector(byte[] key)
    {
        if (key.Length != 32)
        {
            throw new ArgumentException("The secrets key must be 32 bytes.", nameof(key));
        }

        _key = key;
        _fingerprintKey = HMACSHA256.HashData(key, "runcommand-fingerprint"u8);
    }

    /// <summary>A value that identifies the key without revealing it (HMAC of a constant), for <see cref="SecretsKeyCheck"/>.</summary>
    public byte[] KeyCheck => HMACSHA256.HashData(_key, "runcommand-secrets-key-check"u8);

    /// <summary>Loads the key file, creating it (0600) with a fresh random key when it does not exist.</summary>
    public static SecretProtector FromKeyFile(string path)
    {
        if (!File.Exists(path))
        {
            SecureFile.WriteAllBytes(path, RandomNumberGenerator.GetBytes(32));
        }

        var key = File.ReadAllBytes(path);
        if (key.Length != 32)
        {
            throw new InvalidOperationException($"The secrets key file '{path}' must hold exactly 32 bytes.");
        }

        return new SecretProtector(key);
    }

    public byte[]? Seal(SecretBundle bundle)
    {
        if (bundle.IsEmpty)
        {
            return null;
        }

        return SealBytes(JsonSerializer.SerializeToUtf8Bytes(bundle, SecretJson.Default.SecretBundle));
    }

    /// <summary>Encrypts (AES-GCM, fresh nonce) and then zeroes <paramref name="plain"/>.</summary>
    public byte[] SealBytes(byte[] plain)
    {
        var sealedBytes = new byte[NonceSize + TagSize + plain.Length];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize));
        CryptographicOperations.ZeroMemory(plain);
        return sealedBytes;
    }

    public SecretBundle Unseal(byte[]? sealedBytes)
    {
        if (sealedBytes is null)
        {
            return new SecretBundle();
        }

        var plain = UnsealBytes(sealedBytes);
        var bundle = JsonSerializer.Deserialize(plain, SecretJson.Default.SecretBundle) ?? new SecretBundle();
        CryptographicOperations.ZeroMemory(plain);
        return bundle;
    }

    /// <summary>Decrypts what <see cref="SealBytes"/> sealed; the caller zeroes the result when done.</summary>
    public byte[] UnsealBytes(byte[] sealedBytes)
    {
        var plain = new byte[sealedBytes.Length - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), plain);
        return plain;
    }

    /// <summary>A keyed fingerprint of the given parts; equal inputs give equal fingerprints.</summary>
    public string Fingerprint(string spec, SecretBundle secrets)
    {
        var secretJson = JsonSerializer.Serialize(secrets, SecretJson.Default.SecretBundle);
        return Convert.ToHexString(HMACSHA256.HashData(_fingerprintKey, Encoding.UTF8.GetBytes(spec + "\n" + secretJson)));
    }
}

/// <summary>Writes files that hold credentials: created 0600 from the start, replaced atomically.</summary>
public static class SecureFile
{
    public static void WriteAllText(string path, string contents) => WriteAllBytes(path, Encoding.UTF8.GetBytes(contents));

    public static void WriteAllBytes(string path, byte[] contents)
    {
        var temp = path + ".tmp-" + Environment.ProcessId;
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(temp, options))
        {
            stream.Write(contents);
            stream.Flush(flushToDisk: true);
        }

        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, path, overwrite: true);
    }
}
