using System.Text.Json;
using System.Text.RegularExpressions;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Arm;

/// <summary>
/// A PUT or PATCH body of a run command, checked field by field. Every problem is collected (with the JSON path
/// of the field as its target) so the caller gets all of them in one 400. Fields that are absent or null are
/// "not given": a PUT starts from defaults, a PATCH keeps the stored value.
/// </summary>
public sealed partial class RunCommandRequest
{
    /// <summary>Tags on one resource (ARM's limit).</summary>
    public const int MaxTags = 50;

    /// <summary>Entries of <c>parameters</c>, and of <c>protectedParameters</c>, of one run command.</summary>
    public const int MaxParameters = 100;

    private readonly List<ArmError> _errors = [];
    private readonly HashSet<string> _given = new(StringComparer.Ordinal);

    private RunCommandRequest()
    {
    }

    public string? Location { get; private set; }

    public IReadOnlyDictionary<string, string>? Tags { get; private set; }

    public RunCommandSource? Source { get; private set; }

    public IReadOnlyList<RunCommandParameter>? Parameters { get; private set; }

    public IReadOnlyList<RunCommandParameter>? ProtectedParameters { get; private set; }

    public bool? AsyncExecution { get; private set; }

    public string? RunAsUser { get; private set; }

    public string? RunAsPassword { get; private set; }

    public int? TimeoutInSeconds { get; private set; }

    public string? OutputBlobUri { get; private set; }

    public string? ErrorBlobUri { get; private set; }

    public bool? TreatFailureAsDeploymentFailure { get; private set; }

    public RunCommandManagedIdentity? OutputBlobManagedIdentity { get; private set; }

    public RunCommandManagedIdentity? ErrorBlobManagedIdentity { get; private set; }

    public IReadOnlyList<ArmError> Errors => _errors;

    public bool IsGiven(string field) => _given.Contains(field);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvironmentName();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$")]
    private static partial Regex LinuxUserName();

    /// <summary>Reads a request body; malformed JSON is a 400 InvalidRequestContent naming the line and position.</summary>
    public static async Task<RunCommandRequest> ReadAsync(HttpRequest request, bool isPatch, CancellationToken cancellationToken)
    {
        using (var document = await ArmBody.ReadJsonAsync(request, cancellationToken))
        {
            return Parse(document.RootElement, isPatch);
        }
    }

    public static RunCommandRequest Parse(JsonElement root, bool isPatch)
    {
        var request = new RunCommandRequest();
        if (root.ValueKind != JsonValueKind.Object)
        {
            request.Add("", "The request body must be a JSON object.");
            return request;
        }

        request.Location = request.ReadString(root, "location", "location");
        if (!isPatch && string.IsNullOrWhiteSpace(request.Location))
        {
            request.Add("location", "The 'location' property is required.", code: "LocationRequired");
        }

        request.Tags = request.ReadTags(root);

        if (!root.TryGetProperty("properties", out var properties) || properties.ValueKind == JsonValueKind.Null)
        {
            if (!isPatch)
            {
                request.Add("properties.source", "The 'properties.source' property is required: give exactly one of script, scriptUri or commandId.");
            }

            return request;
        }

        if (properties.ValueKind != JsonValueKind.Object)
        {
            request.Add("properties", "'properties' must be a JSON object.");
            return request;
        }

        request.ReadSource(properties, isPatch);
        request.Parameters = request.ReadParameters(properties, "parameters");
        request.ProtectedParameters = request.ReadParameters(properties, "protectedParameters");
        request.AsyncExecution = request.ReadBool(properties, "asyncExecution");
        request.TreatFailureAsDeploymentFailure = request.ReadBool(properties, "treatFailureAsDeploymentFailure");
        request.RunAsUser = request.ReadString(properties, "runAsUser", "properties.runAsUser");
        if (request.RunAsUser is { } user && !LinuxUserName().IsMatch(user))
        {
            request.Add("properties.runAsUser", $"'{user}' is not a valid Linux user name.");
        }

        request.RunAsPassword = request.ReadString(properties, "runAsPassword", "properties.runAsPassword");
        request.TimeoutInSeconds = request.ReadTimeout(properties);
        request.OutputBlobUri = request.ReadUri(properties, "outputBlobUri");
        request.ErrorBlobUri = request.ReadUri(properties, "errorBlobUri");
        request.OutputBlobManagedIdentity = request.ReadIdentity(properties, "outputBlobManagedIdentity", "properties.outputBlobManagedIdentity");
        request.ErrorBlobManagedIdentity = request.ReadIdentity(properties, "errorBlobManagedIdentity", "properties.errorBlobManagedIdentity");
        return request;
    }

    /// <summary>The spec and secrets this request asks for, on top of what is stored (nothing, for a PUT).</summary>
    public (RunCommandSpec Spec, SecretBundle Secrets) Apply(RunCommandSpec? current, SecretBundle? currentSecrets)
    {
        var spec = current ?? new RunCommandSpec();
        var secrets = currentSecrets ?? new SecretBundle();
        if (Source is not null)
        {
            // The query of a scriptUri (a SAS) is a secret: it is sealed with the other secrets, and the public spec
            // (GET, list, logs, the database's plain columns) keeps only the URL without it.
            var (publicUri, sas) = Source.ScriptUri is null ? (null, null) : SasUrl.Split(Source.ScriptUri);
            spec = spec with { Script = Source.Script, ScriptUri = publicUri, CommandId = Source.CommandId, ScriptUriManagedIdentity = Source.ScriptUriManagedIdentity };
            secrets = secrets with { ScriptUriSas = sas };
        }

        if (Parameters is not null)
        {
            spec = spec with { Parameters = Parameters };
        }

        if (ProtectedParameters is not null)
        {
            secrets = secrets with { ProtectedParameters = ProtectedParameters };
        }

        if (IsGiven("runAsPassword"))
        {
            secrets = secrets with { RunAsPassword = RunAsPassword };
        }

        // A blob URL's query is its SAS token: sealed with the secrets, never shown by a GET.
        if (IsGiven("outputBlobUri"))
        {
            var (url, sas) = OutputBlobUri is null ? (null, null) : SasUrl.Split(OutputBlobUri);
            spec = spec with { OutputBlobUri = url };
            secrets = secrets with { OutputBlobSas = sas };
        }

        if (IsGiven("outputBlobManagedIdentity"))
        {
            spec = spec with { OutputBlobManagedIdentity = OutputBlobManagedIdentity };
        }

        if (IsGiven("errorBlobManagedIdentity"))
        {
            spec = spec with { ErrorBlobManagedIdentity = ErrorBlobManagedIdentity };
        }

        if (IsGiven("errorBlobUri"))
        {
            var (url, sas) = ErrorBlobUri is null ? (null, null) : SasUrl.Split(ErrorBlobUri);
            spec = spec with { ErrorBlobUri = url };
            secrets = secrets with { ErrorBlobSas = sas };
        }

        spec = spec with
        {
            AsyncExecution = AsyncExecution ?? spec.AsyncExecution,
            TreatFailureAsDeploymentFailure = TreatFailureAsDeploymentFailure ?? spec.TreatFailureAsDeploymentFailure,
            RunAsUser = IsGiven("runAsUser") ? RunAsUser : spec.RunAsUser,
            TimeoutInSeconds = TimeoutInSeconds ?? spec.TimeoutInSeconds,
            ProtectedParameterCount = secrets.ProtectedParameters.Count,
        };
        return (spec, secrets);
    }

    private void ReadSource(JsonElement properties, bool isPatch)
    {
        if (!properties.TryGetProperty("source", out var source) || source.ValueKind == JsonValueKind.Null)
        {
            if (!isPatch)
            {
                Add("properties.source", "The 'properties.source' property is required: give exactly one of script, scriptUri or commandId.");
            }

            return;
        }

        if (source.ValueKind != JsonValueKind.Object)
        {
            Add("properties.source", "'properties.source' must be a JSON object with exactly one of script, scriptUri or commandId.");
            return;
        }

        var script = ReadString(source, "script", "properties.source.script");
        var scriptUri = ReadString(source, "scriptUri", "properties.source.scriptUri");
        var commandId = ReadString(source, "commandId", "properties.source.commandId");
        var count = (script is null ? 0 : 1) + (scriptUri is null ? 0 : 1) + (commandId is null ? 0 : 1);
        if (count != 1)
        {
            Add("properties.source", count == 0
                ? "'properties.source' needs exactly one of script, scriptUri or commandId; none was given."
                : "'properties.source' needs exactly one of script, scriptUri or commandId; several were given.");
            return;
        }

        if (scriptUri is not null && !IsHttpUri(scriptUri))
        {
            Add("properties.source.scriptUri", "'properties.source.scriptUri' must be an absolute http or https URL.");
        }
        else if (scriptUri is not null && HasUserInfo(scriptUri))
        {
            Add("properties.source.scriptUri", UserInfoRefused("properties.source.scriptUri"));
        }

        if (commandId is not null && string.IsNullOrWhiteSpace(commandId))
        {
            Add("properties.source.commandId", "'properties.source.commandId' must not be empty.");
        }

        var identity = ReadIdentity(source, "scriptUriManagedIdentity", "properties.source.scriptUriManagedIdentity");
        if (identity is not null && scriptUri is null)
        {
            Add("properties.source.scriptUriManagedIdentity", "'properties.source.scriptUriManagedIdentity' goes with a scriptUri only.");
        }

        Source = new RunCommandSource { Script = script, ScriptUri = scriptUri, CommandId = commandId, ScriptUriManagedIdentity = identity };
    }

    /// <summary>
    /// Reads a <c>RunCommandManagedIdentity</c>: an object with at most one of <c>clientId</c> and <c>objectId</c> (strings);
    /// <c>{}</c> is the system-assigned identity. Absent or null: not given.
    /// </summary>
    private RunCommandManagedIdentity? ReadIdentity(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        _given.Add(name);
        if (value.ValueKind != JsonValueKind.Object)
        {
            Add(path, $"'{path}' must be an object: {{\"clientId\": \"...\"}}, {{\"objectId\": \"...\"}} or {{}} for the system-assigned identity.");
            return null;
        }

        var clientId = ReadString(value, "clientId", path + ".clientId");
        var objectId = ReadString(value, "objectId", path + ".objectId");
        if (clientId is not null && objectId is not null)
        {
            Add(path, $"'{path}' names an identity by clientId or by objectId, not both.");
            return null;
        }

        foreach (var (id, field) in new[] { (clientId, "clientId"), (objectId, "objectId") })
        {
            if (id is not null && (id.Length is 0 or > 128 || id.Any(char.IsControl)))
            {
                Add($"{path}.{field}", $"'{path}.{field}' must be 1-128 printable characters.");
                return null;
            }
        }

        return new RunCommandManagedIdentity { ClientId = clientId, ObjectId = objectId };
    }

    private List<RunCommandParameter>? ReadParameters(JsonElement properties, string name)
    {
        var path = "properties." + name;
        if (!properties.TryGetProperty(name, out var array) || array.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            Add(path, $"'{path}' must be an array of {{\"name\", \"value\"}} objects.");
            return null;
        }

        if (array.GetArrayLength() > MaxParameters)
        {
            Add(path, $"'{path}' has {array.GetArrayLength():N0} entries; the limit is {MaxParameters}.");
            return null;
        }

        var result = new List<RunCommandParameter>();
        var index = 0;
        foreach (var item in array.EnumerateArray())
        {
            var itemPath = $"{path}[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                Add(itemPath, $"'{itemPath}' must be an object with 'name' and 'value'.");
                continue;
            }

            var parameterName = ReadString(item, "name", itemPath + ".name") ?? "";
            var value = ReadString(item, "value", itemPath + ".value");
            if (value is null)
            {
                if (!item.TryGetProperty("value", out var raw) || raw.ValueKind == JsonValueKind.Null)
                {
                    Add(itemPath + ".value", $"'{itemPath}.value' is required (a string).");
                }

                continue;
            }

            if (parameterName.Length > 0 && !EnvironmentName().IsMatch(parameterName))
            {
                // A protected parameter's name is not echoed: a client that split a secret at its '=' sent part of it here.
                var shown = name == "protectedParameters" ? $"'{itemPath}.name'" : $"Parameter name '{parameterName}'";
                Add(itemPath + ".name", $"{shown} is not a valid environment variable name (letters, digits and '_', not starting with a digit); use an empty name for a positional argument.");
                continue;
            }

            result.Add(new RunCommandParameter { Name = parameterName, Value = value });
        }

        return result;
    }

    private IReadOnlyDictionary<string, string>? ReadTags(JsonElement root)
    {
        if (!root.TryGetProperty("tags", out var tags) || tags.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (tags.ValueKind != JsonValueKind.Object)
        {
            Add("tags", "'tags' must be an object of string values.");
            return null;
        }

        var count = tags.EnumerateObject().Count();
        if (count > MaxTags)
        {
            Add("tags", $"'tags' has {count:N0} entries; the limit is {MaxTags}.");
            return null;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var tag in tags.EnumerateObject())
        {
            if (tag.Value.ValueKind != JsonValueKind.String)
            {
                Add($"tags.{tag.Name}", $"Tag '{tag.Name}' must have a string value.");
                continue;
            }

            if (tag.Name.Length is 0 or > 512 || tag.Value.GetString()!.Length > 256)
            {
                Add($"tags.{tag.Name}", "Tag names must have 1-512 characters and values at most 256.");
                continue;
            }

            result[tag.Name] = tag.Value.GetString()!;
        }

        return result;
    }

    private int? ReadTimeout(JsonElement properties)
    {
        const string path = "properties.timeoutInSeconds";
        if (!properties.TryGetProperty("timeoutInSeconds", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        _given.Add("timeoutInSeconds");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var seconds))
        {
            Add(path, $"'{path}' must be a whole number of seconds (0 means no limit).");
            return null;
        }

        if (seconds < 0)
        {
            Add(path, $"'{path}' must not be negative (0 means no limit); got {seconds}.");
            return null;
        }

        return seconds;
    }

    private string? ReadUri(JsonElement properties, string name)
    {
        var path = "properties." + name;
        var value = ReadString(properties, name, path);
        if (value is not null && !IsHttpUri(value))
        {
            Add(path, $"'{path}' must be an absolute http or https URL of an append blob (with a SAS token).");
        }
        else if (value is not null && HasUserInfo(value))
        {
            Add(path, UserInfoRefused(path));
        }

        return value;
    }

    private static bool IsHttpUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp) && uri.Host.Length > 0;

    /// <summary>
    /// A user name or password before the host (<c>https://user:pass@host/</c>) would be kept and shown as part of the
    /// public URL, which only has its query sealed: refused, naming neither.
    /// </summary>
    private static bool HasUserInfo(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0;

    private static string UserInfoRefused(string path) =>
        $"'{path}' must not carry credentials before its host (user:password@); give a SAS token in its query, or a managed identity.";

    private bool? ReadBool(JsonElement parent, string name)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        _given.Add(name);
        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetBoolean();
        }

        Add("properties." + name, $"'properties.{name}' must be true or false.");
        return null;
    }

    private string? ReadString(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        _given.Add(name);
        if (value.ValueKind != JsonValueKind.String)
        {
            // Never echo the offending value: it may be a secret.
            Add(path, $"'{path}' must be a string; got {value.ValueKind.ToString().ToLowerInvariant()}.");
            return null;
        }

        return value.GetString();
    }

    private void Add(string target, string message, string code = "InvalidParameter") =>
        _errors.Add(new ArmError { Code = code, Target = target.Length == 0 ? null : target, Message = message });
}
