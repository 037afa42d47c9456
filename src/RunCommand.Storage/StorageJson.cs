using System.Text.Json;
using System.Text.Json.Serialization;
using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>Source-generated JSON for the document columns every backend stores (spec, tags).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunCommandSpec))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(RunCommandDocument))]
[JsonSerializable(typeof(ArmError))]
[JsonSerializable(typeof(List<int>))]
[JsonSerializable(typeof(FleetRunDefinition))]
public sealed partial class StorageJson : JsonSerializerContext;

/// <summary>Helpers every backend shares to turn documents and ids into columns and back.</summary>
public static class StorageFormat
{
    public static string Serialize(RunCommandSpec spec) => JsonSerializer.Serialize(spec, StorageJson.Default.RunCommandSpec);

    public static RunCommandSpec DeserializeSpec(string json) =>
        JsonSerializer.Deserialize(json, StorageJson.Default.RunCommandSpec) ?? throw new InvalidDataException("Stored run command spec is empty.");

    public static string? Serialize(ArmError? error) => error is null ? null : JsonSerializer.Serialize(error, StorageJson.Default.ArmError);

    public static ArmError? DeserializeError(string? json) => json is null ? null : JsonSerializer.Deserialize(json, StorageJson.Default.ArmError);

    public static string Serialize(IReadOnlyList<int> indexes) => JsonSerializer.Serialize(indexes.ToList(), StorageJson.Default.ListInt32);

    public static IReadOnlyList<int> DeserializeIndexes(string json) => JsonSerializer.Deserialize(json, StorageJson.Default.ListInt32) ?? [];

    public static string Serialize(FleetRunDefinition definition) => JsonSerializer.Serialize(definition, StorageJson.Default.FleetRunDefinition);

    public static FleetRunDefinition DeserializeFleetDefinition(string json) =>
        JsonSerializer.Deserialize(json, StorageJson.Default.FleetRunDefinition) ?? throw new InvalidDataException("Stored fleet run definition is empty.");

    /// <summary>Parses a machine resource id produced by <see cref="VmKey.ResourceId"/>; null when it is not one.</summary>
    public static VmKey? ParseMachineId(string resourceId)
    {
        var parts = resourceId.Split('/');
        if (parts.Length == 9 && string.Equals(parts[7], "virtualMachines", StringComparison.OrdinalIgnoreCase))
        {
            return new VmKey(parts[2], parts[4], parts[8]);
        }

        if (parts.Length == 11 && string.Equals(parts[7], "virtualMachineScaleSets", StringComparison.OrdinalIgnoreCase)
            && string.Equals(parts[9], "virtualMachines", StringComparison.OrdinalIgnoreCase))
        {
            return new VmKey(parts[2], parts[4], parts[10], parts[8]);
        }

        return null;
    }

    public static string Serialize(RunCommandDocument document) => JsonSerializer.Serialize(document, StorageJson.Default.RunCommandDocument);

    public static RunCommandDocument DeserializeDocument(string json) =>
        JsonSerializer.Deserialize(json, StorageJson.Default.RunCommandDocument) ?? throw new InvalidDataException("Stored command document is empty.");

    public static string? Serialize(IReadOnlyDictionary<string, string>? tags) =>
        tags is null ? null : JsonSerializer.Serialize(new Dictionary<string, string>(tags), StorageJson.Default.DictionaryStringString);

    public static IReadOnlyDictionary<string, string>? DeserializeTags(string? json) =>
        json is null ? null : JsonSerializer.Deserialize(json, StorageJson.Default.DictionaryStringString);

    /// <summary>Parses a run command resource id produced by <see cref="RunCommandKey.ResourceId"/>.</summary>
    public static RunCommandKey ParseRunCommandId(string resourceId)
    {
        var parts = resourceId.Split('/');
        return parts.Length switch
        {
            11 => new RunCommandKey(new VmKey(parts[2], parts[4], parts[8]), parts[10]),
            // .../virtualMachineScaleSets/{vmss}/virtualMachines/{instanceId}/runCommands/{name}
            13 => new RunCommandKey(new VmKey(parts[2], parts[4], parts[10], parts[8]), parts[12]),
            _ => throw new InvalidDataException($"Not a run command resource id: '{resourceId}'."),
        };
    }

    /// <summary>
    /// <paramref name="value"/> as every backend stores and reads it back: in UTC, to the microsecond (PostgreSQL's
    /// <c>timestamptz</c> keeps no finer; SQLite's text keeps 100 ns, so this loses nothing there either).
    /// </summary>
    public static DateTimeOffset StoredTime(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return utc.AddTicks(-(utc.Ticks % 10));
    }

    public static string Timestamp(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseTimestamp(string value) =>
        DateTimeOffset.Parse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal);
}
