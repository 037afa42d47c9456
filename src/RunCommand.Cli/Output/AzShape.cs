using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunCommand.Cli.Output;

/// <summary>
/// The shape az prints a resource in, built from the ARM body the API returns: the <c>properties</c> bag lifted to the
/// top (<c>provisioningState</c>, <c>instanceView</c> beside <c>name</c>, as the Azure SDK models flatten them), a
/// <c>resourceGroup</c> taken from the id, every property of az's run-command model present (null when unset), and
/// times as Python prints them. Objects come out with their keys sorted, which is what az's tsv and table use when
/// no query reorders them. The REST API keeps the ARM shape; this is only how the CLI prints.
/// </summary>
internal static class AzShape
{
    private const string RunCommandType = "Microsoft.Compute/virtualMachines/runCommands";

    /// <summary>The properties of az's run-command model (azure-mgmt-compute's VirtualMachineRunCommand), flattened.</summary>
    private static readonly string[] RunCommandKeys =
    [
        "asyncExecution", "errorBlobManagedIdentity", "errorBlobUri", "id", "instanceView", "location", "name",
        "outputBlobManagedIdentity", "outputBlobUri", "parameters", "protectedParameters", "provisioningState",
        "resourceGroup", "runAsPassword", "runAsUser", "source", "tags", "timeoutInSeconds",
        "treatFailureAsDeploymentFailure", "type",
    ];

    private static readonly string[] SourceKeys = ["commandId", "script", "scriptUri", "scriptUriManagedIdentity"];

    private static readonly string[] InstanceViewKeys = ["endTime", "error", "executionMessage", "executionState", "exitCode", "output", "startTime", "statuses"];

    // Every time the CLI prints: run commands', the activity log's, a machine's last contact, a deployment's timestamp.
    private static readonly string[] TimeKeys = ["startTime", "endTime", "time", "lastContact", "timestamp"];

    /// <summary>One resource, or each of a list of them, in az's shape.</summary>
    public static JsonNode? Of(JsonNode? arm) => arm switch
    {
        JsonArray list => new JsonArray(list.Select(item => Of(item?.DeepClone())).ToArray()),
        JsonObject resource => Sorted(Flatten(resource)),
        _ => arm?.DeepClone(),
    };

    private static JsonObject Flatten(JsonObject resource)
    {
        var flat = new JsonObject();
        foreach (var (key, value) in resource)
        {
            if (key == "properties" && value is JsonObject properties)
            {
                foreach (var (name, property) in properties)
                {
                    flat[name] = property?.DeepClone();
                }
            }
            else if (!flat.ContainsKey(key))
            {
                flat[key] = value?.DeepClone();
            }
        }

        if (flat["id"]?.GetValueKind() == JsonValueKind.String && !flat.ContainsKey("resourceGroup")
            && Renderer.ResourceGroupOf(flat["id"]!.GetValue<string>()) is { Length: > 0 } group)
        {
            flat["resourceGroup"] = group;
        }

        if (IsRunCommand(flat))
        {
            Complete(flat, RunCommandKeys);
            Complete(flat["source"] as JsonObject, SourceKeys);
            if (flat["instanceView"] is JsonObject view)
            {
                Complete(view, InstanceViewKeys);
            }

            flat["parameters"] ??= new JsonArray();
        }

        return flat;
    }

    private static bool IsRunCommand(JsonObject flat) =>
        flat["type"]?.GetValueKind() == JsonValueKind.String
        && (flat["type"]!.GetValue<string>().Equals(RunCommandType, StringComparison.OrdinalIgnoreCase)
            || flat["type"]!.GetValue<string>().EndsWith("/virtualMachines/runCommands", StringComparison.OrdinalIgnoreCase));

    private static void Complete(JsonObject? obj, string[] keys)
    {
        if (obj is null)
        {
            return;
        }

        foreach (var key in keys)
        {
            if (!obj.ContainsKey(key))
            {
                obj[key] = null;
            }
        }
    }

    /// <summary>A copy with every object's keys sorted and times in Python's isoformat.</summary>
    public static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, TimeKeys.Contains(p.Key) ? PythonTime(p.Value) : Sorted(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Sorted).ToArray()),
        _ => node?.DeepClone(),
    };

    /// <summary>An ISO 8601 time as Python's <c>datetime.isoformat()</c>: microseconds only when not zero, offset as +HH:MM.</summary>
    private static JsonNode? PythonTime(JsonNode? value)
    {
        if (value?.GetValueKind() != JsonValueKind.String
            || !DateTimeOffset.TryParse(value.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time))
        {
            return value?.DeepClone();
        }

        var micro = time.Ticks % TimeSpan.TicksPerSecond / 10;
        var text = time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)
            + (micro == 0 ? "" : "." + micro.ToString("D6", CultureInfo.InvariantCulture))
            + time.ToString("zzz", CultureInfo.InvariantCulture);
        return JsonValue.Create(text);
    }
}
