using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm.Documents;

namespace RunCommand.Server.Arm.ActionRuns;

/// <summary>The body of <c>POST .../runCommand</c> (<c>{"commandId","script":[...],"parameters":[...]}</c>), checked field by field.</summary>
public sealed class ActionRunRequest
{
    private readonly List<ArmError> _errors = [];

    private ActionRunRequest()
    {
    }

    public string? CommandId { get; private set; }

    public IReadOnlyList<string>? Script { get; private set; }

    public IReadOnlyList<RunCommandParameter> Parameters { get; private set; } = [];

    /// <summary>Every problem found; empty when the body is usable.</summary>
    public IReadOnlyList<ArmError> Errors => _errors;

    public static async Task<ActionRunRequest> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using (var document = await ArmBody.ReadJsonAsync(request, cancellationToken))
        {
            return Parse(document.RootElement);
        }
    }

    public static ActionRunRequest Parse(JsonElement root)
    {
        var request = new ActionRunRequest();
        if (root.ValueKind != JsonValueKind.Object)
        {
            request.Add("", "The request body must be a JSON object with 'commandId' and, for RunShellScript, 'script'.");
            return request;
        }

        if (root.TryGetProperty("commandId", out var commandId) && commandId.ValueKind == JsonValueKind.String && commandId.GetString() is { Length: > 0 } id)
        {
            request.CommandId = id;
        }
        else
        {
            request.Add("commandId", "'commandId' is required: the id of a command document, e.g. RunShellScript.");
        }

        if (root.TryGetProperty("script", out var script) && script.ValueKind != JsonValueKind.Null)
        {
            if (script.ValueKind == JsonValueKind.Array && script.EnumerateArray().All(l => l.ValueKind == JsonValueKind.String))
            {
                request.Script = script.EnumerateArray().Select(l => l.GetString()!).ToList();
            }
            else
            {
                request.Add("script", "'script' must be an array of strings (the script's lines).");
            }
        }

        if (root.TryGetProperty("parameters", out var parameters) && parameters.ValueKind != JsonValueKind.Null)
        {
            request.Parameters = request.ReadParameters(parameters);
        }

        return request;
    }

    private List<RunCommandParameter> ReadParameters(JsonElement array)
    {
        var result = new List<RunCommandParameter>();
        if (array.ValueKind != JsonValueKind.Array)
        {
            Add("parameters", "'parameters' must be an array of {\"name\", \"value\"} objects.");
            return result;
        }

        var index = 0;
        foreach (var item in array.EnumerateArray())
        {
            var path = $"parameters[{index++}]";
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.String)
            {
                Add(path, $"'{path}' must be an object with a string 'value' and an optional string 'name'.");
                continue;
            }

            if (item.TryGetProperty("name", out var n) && n.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                // Read as "" it would silently become a positional argument.
                Add(path + ".name", $"'{path}.name' must be a string (empty or absent for a positional argument).");
                continue;
            }

            var name = n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
            if (name.Length > 0 && !DocumentResolver.EnvironmentName().IsMatch(name))
            {
                Add(path + ".name", $"Parameter name '{name}' is not a valid environment variable name (letters, digits and '_', not starting with a digit); use an empty name for a positional argument.");
                continue;
            }

            result.Add(new RunCommandParameter { Name = name, Value = value.GetString()! });
        }

        return result;
    }

    private void Add(string target, string message) =>
        _errors.Add(new ArmError { Code = "InvalidParameter", Target = target.Length == 0 ? null : target, Message = message });
}
