using System.Text.Json;
using RunCommand.Contracts.Arm;

namespace RunCommand.Agent.Blobs;

/// <summary>A storage account's shared key: what a managed identity named by a run command stands for on this agent.</summary>
public sealed class StorageKey(string accountName, byte[] key)
{
    public string AccountName { get; } = accountName;

    /// <summary>The account key (a secret): used to sign requests, never logged, never in a message.</summary>
    internal byte[] Key { get; } = key;

    /// <summary>Names the account only.</summary>
    public override string ToString() => $"storage account {AccountName}";
}

/// <summary>
/// The agent's storage credentials (<c>--storage-credentials FILE</c>): which storage account key a managed identity of a
/// run command (<c>scriptUriManagedIdentity</c>, <c>outputBlobManagedIdentity</c>, <c>errorBlobManagedIdentity</c>) stands
/// for. Self-hosted machines have no Azure identity endpoint, so the identity is a name the agent's owner maps to a key.
/// The file is JSON, mode 0600 (no access for group or others) or the agent refuses to start:
/// <code>{"identities": [{"clientId": "ID", "accountName": "acct", "accountKey": "BASE64"},
///                 {"objectId": "ID", "connectionString": "AccountName=acct;AccountKey=BASE64;..."},
///                 {"systemAssigned": true, "accountName": "acct", "accountKey": "BASE64"}]}</code>
/// </summary>
public sealed class StorageCredentials
{
    private readonly IReadOnlyList<Entry> _entries;

    private StorageCredentials(IReadOnlyList<Entry> entries) => _entries = entries;

    /// <summary>No credentials configured: every identity is unknown.</summary>
    public static StorageCredentials None { get; } = new([]);

    public int Count => _entries.Count;

    /// <summary>Reads and checks the file; throws <see cref="InvalidDataException"/> with a message that never quotes a key.</summary>
    public static StorageCredentials Load(string path)
    {
        UnixFileMode mode;
        byte[] bytes;
        try
        {
            mode = File.GetUnixFileMode(path);
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"cannot read --storage-credentials {path}: {e.Message}");
        }

        const UnixFileMode groupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        if ((mode & groupOrOthers) != 0)
        {
            throw new InvalidDataException($"--storage-credentials {path} holds account keys but group or others may access it: chmod 600 it");
        }

        try
        {
            using var document = JsonDocument.Parse(bytes);
            if (!document.RootElement.TryGetProperty("identities", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"--storage-credentials {path}: expected {{\"identities\": [...]}}");
            }

            var entries = new List<Entry>();
            var index = 0;
            foreach (var item in list.EnumerateArray())
            {
                entries.Add(ReadEntry(item, $"--storage-credentials {path}: identities[{index++}]"));
            }

            return new StorageCredentials(entries);
        }
        catch (JsonException e)
        {
            // The parser's message gives the position only, never the text around it.
            throw new InvalidDataException($"--storage-credentials {path} is not valid JSON (line {e.LineNumber + 1})");
        }
    }

    /// <summary>
    /// The key that authenticates requests to <paramref name="url"/> for <paramref name="field"/> (e.g.
    /// <c>outputBlobManagedIdentity</c>). Null when none is needed: no identity was named, or the URL carries its own
    /// SAS (which then wins). <paramref name="problem"/> says why a named identity cannot be used.
    /// </summary>
    public StorageKey? For(string field, string? url, RunCommandManagedIdentity? identity, out string? problem)
    {
        problem = null;
        if (identity is null || url is null || (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Query.Length > 1))
        {
            return null;
        }

        var found = _entries.FirstOrDefault(e => e.Matches(identity));
        if (found is null)
        {
            problem = $"{field} {identity} is not configured on this agent (add it to the file of the agent's --storage-credentials option)";
        }

        return found?.Key;
    }

    private static Entry ReadEntry(JsonElement item, string where)
    {
        string? Text(string name) => item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        var clientId = Text("clientId");
        var objectId = Text("objectId");
        var system = item.TryGetProperty("systemAssigned", out var s) && s.ValueKind == JsonValueKind.True;
        if ((clientId is null ? 0 : 1) + (objectId is null ? 0 : 1) + (system ? 1 : 0) != 1)
        {
            throw new InvalidDataException($"{where} needs exactly one of clientId, objectId and \"systemAssigned\": true");
        }

        var account = Text("accountName");
        var keyText = Text("accountKey");
        if (Text("connectionString") is { } connection)
        {
            foreach (var part in connection.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                var (name, value) = eq < 0 ? (part, "") : (part[..eq], part[(eq + 1)..]);
                if (name.Equals("AccountName", StringComparison.OrdinalIgnoreCase))
                {
                    account = value;
                }
                else if (name.Equals("AccountKey", StringComparison.OrdinalIgnoreCase))
                {
                    keyText = value;
                }
            }
        }

        if (string.IsNullOrEmpty(account) || string.IsNullOrEmpty(keyText))
        {
            throw new InvalidDataException($"{where} needs accountName and accountKey (or a connectionString with both)");
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(keyText);
        }
        catch (FormatException)
        {
            throw new InvalidDataException($"{where}: the account key of storage account {account} is not base64");
        }

        return new Entry(clientId, objectId, system, new StorageKey(account, key));
    }

    private sealed record Entry(string? ClientId, string? ObjectId, bool SystemAssigned, StorageKey Key)
    {
        public bool Matches(RunCommandManagedIdentity identity) =>
            identity.ClientId is { } client ? string.Equals(client, ClientId, StringComparison.OrdinalIgnoreCase)
            : identity.ObjectId is { } obj ? string.Equals(obj, ObjectId, StringComparison.OrdinalIgnoreCase)
            : SystemAssigned;
    }
}
