using System.Text.Json;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Storage;

namespace RunCommand.Server.Arm.Documents;

/// <summary>
/// Command documents: the built-in ones plus the custom ones users register (a RunCommand extension; Azure has
/// only built-ins). Ids compare case-insensitively; a custom document can never shadow a built-in.
/// </summary>
public sealed class CommandDocuments
{
    /// <summary>Most lines a custom document's script may have, and most parameters it may declare.</summary>
    public const int MaxScriptLines = 10_000;
    public const int MaxParameters = 64;

    private readonly ICommandDocumentStore _store;
    private readonly TimeProvider _time;

    public CommandDocuments(ICommandDocumentStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    /// <summary>The document a commandId names, or null.</summary>
    public async Task<RunCommandDocument?> FindAsync(string commandId, CancellationToken cancellationToken)
    {
        if (BuiltInDocuments.Find(commandId) is { } builtIn)
        {
            return builtIn;
        }

        var custom = await _store.GetCommandDocumentAsync(commandId, cancellationToken);
        return custom is null ? null : custom.Document with { BuiltIn = false };
    }

    /// <summary>Built-ins first, then custom documents by id.</summary>
    public async Task<IReadOnlyList<RunCommandDocument>> ListAsync(CancellationToken cancellationToken)
    {
        var custom = await _store.ListCommandDocumentsAsync(cancellationToken);
        return [.. BuiltInDocuments.All, .. custom.Select(c => c.Document with { BuiltIn = false })];
    }

    /// <summary>
    /// Resolves the <c>source.commandId</c> of a managed run command into the script and parameters the agent
    /// receives. RunShellScript is refused here: in the managed API a commandId source has no script of its own, and
    /// running nothing and calling it success would hide the caller's mistake; its lines belong in
    /// <c>source.script</c>, or in the action API's <c>script</c>.
    /// </summary>
    public async Task<(RunCommandSpec Spec, IReadOnlyList<ArmError> Errors)> ResolveManagedAsync(RunCommandSpec spec, IReadOnlyList<RunCommandParameter> protectedParameters, CancellationToken cancellationToken)
    {
        spec = spec with { ResolvedScript = null, ResolvedParameters = null };
        if (spec.CommandId is not { } commandId)
        {
            return (spec, []);
        }

        const string target = "properties.source.commandId";
        var document = await FindAsync(commandId, cancellationToken);
        if (document is null)
        {
            return (spec, [Unknown(commandId, target)]);
        }

        if (BuiltInDocuments.IsRunShellScript(document))
        {
            return (spec, [new ArmError
            {
                Code = "InvalidParameter",
                Target = target,
                Message = "'RunShellScript' runs the script lines given with it, and a managed run command has no field for them: put the script in 'properties.source.script' instead, or use the action API (POST .../virtualMachines/{vm}/runCommand).",
            }]);
        }

        var resolution = DocumentResolver.Resolve(document, spec.Parameters, protectedParameters, "properties.parameters", "properties.protectedParameters");
        return (spec with { ResolvedScript = resolution.Script, ResolvedParameters = resolution.Parameters }, resolution.Errors);
    }

    public static ArmError Unknown(string commandId, string target) => new()
    {
        Code = "InvalidParameter",
        Target = target,
        Message = $"There is no command document '{commandId}'. List them with GET /subscriptions/{{sub}}/providers/Microsoft.Compute/locations/{{location}}/runCommands.",
    };

    /// <summary>Checks and stores a custom document; answers 409 for a built-in id, 400 for a bad body. True when new.</summary>
    public async Task<(bool Created, RunCommandDocument Document)> PutAsync(string commandId, JsonElement body, CancellationToken cancellationToken)
    {
        RequireCustom(commandId, "replaced");
        var document = Validate(commandId, body);
        var created = await _store.PutCommandDocumentAsync(document, _time.GetUtcNow(), cancellationToken);
        return (created, document with { BuiltIn = false });
    }

    public async Task<bool> DeleteAsync(string commandId, CancellationToken cancellationToken)
    {
        RequireCustom(commandId, "deleted");
        return await _store.DeleteCommandDocumentAsync(commandId, cancellationToken);
    }

    private static void RequireCustom(string commandId, string verb)
    {
        if (BuiltInDocuments.Find(commandId) is { } builtIn)
        {
            throw new ArmRequestException(StatusCodes.Status409Conflict, "Conflict",
                $"'{builtIn.Id}' is a built-in command document and cannot be {verb}; register a custom document under another id.", "commandId");
        }
    }

    /// <summary>Reads a custom document body, collecting every problem; the id comes from the URL.</summary>
    public static RunCommandDocument Validate(string commandId, JsonElement body)
    {
        RunCommandDocument? document;
        try
        {
            document = body.Deserialize(ContractsJsonContext.Default.RunCommandDocument);
        }
        catch (JsonException e)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent",
                $"The command document could not be read: {ArmBody.Describe(e)}", e.Path?.TrimStart('$').TrimStart('.') is { Length: > 0 } target ? target : null);
        }

        if (document is null)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent", "The request body must be a command document (a JSON object).");
        }

        // Source-generated deserialization sets a missing init-only property to null, defaults or not: normalize.
        document = document with
        {
            Id = document.Id ?? "",
            OsType = document.OsType ?? "Linux",
            Script = document.Script ?? [],
            Parameters = (document.Parameters ?? []).Select(p => p with { Type = p.Type ?? ParameterTypes.String }).ToList(),
        };
        var errors = new List<ArmError>();
        if (document.Id.Length > 0 && !string.Equals(document.Id, commandId, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(Invalid("id", $"The document's id '{document.Id}' differs from the id in the URL '{commandId}'; leave it out or make them equal."));
        }

        if (!string.Equals(document.OsType, "Linux", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(Invalid("osType", $"'osType' must be Linux; got '{document.OsType}'."));
        }

        if (document.Script.Count == 0 || document.Script.All(string.IsNullOrWhiteSpace))
        {
            errors.Add(Invalid("script", "'script' must be a non-empty array of script lines."));
        }
        else if (document.Script.Count > MaxScriptLines)
        {
            errors.Add(Invalid("script", $"'script' may have at most {MaxScriptLines} lines."));
        }

        if (document.Label is { Length: > 256 })
        {
            errors.Add(Invalid("label", "'label' may have at most 256 characters."));
        }

        if (document.Parameters.Count > MaxParameters)
        {
            errors.Add(Invalid("parameters", $"A document may declare at most {MaxParameters} parameters."));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < document.Parameters.Count; i++)
        {
            var p = document.Parameters[i];
            var path = $"parameters[{i}]";
            if (!DocumentResolver.EnvironmentName().IsMatch(p.Name))
            {
                errors.Add(Invalid(path + ".name", $"Parameter name '{p.Name}' is not a valid environment variable name (letters, digits and '_', not starting with a digit)."));
                continue;
            }

            if (!names.Add(p.Name))
            {
                errors.Add(Invalid(path + ".name", $"Parameter '{p.Name}' is declared more than once."));
            }

            if (!ParameterTypes.IsKnown(p.Type))
            {
                errors.Add(Invalid(path + ".type", $"Parameter '{p.Name}' has type '{p.Type}'; use string, int or bool."));
                continue;
            }

            if (p.Required && p.DefaultValue is not null)
            {
                errors.Add(Invalid(path + ".defaultValue", $"Parameter '{p.Name}' is required, so a default would never be used; drop one of them."));
            }

            foreach (var allowed in p.AllowedValues ?? [])
            {
                if (DocumentResolver.CheckValue(p with { AllowedValues = null }, allowed) is { } problem)
                {
                    errors.Add(Invalid(path + ".allowedValues", $"Allowed value '{allowed}' of parameter '{p.Name}' is not valid: it {problem}."));
                }
            }

            if (p.DefaultValue is { } value && DocumentResolver.CheckValue(p, value) is { } defaultProblem)
            {
                errors.Add(Invalid(path + ".defaultValue", $"The default of parameter '{p.Name}' {defaultProblem}."));
            }
        }

        if (errors.Count > 0)
        {
            throw new ArmRequestException(errors);
        }

        return document with { Id = commandId, Schema = document.Schema ?? BuiltInDocuments.SchemaUrl, OsType = "Linux", BuiltIn = null };
    }

    private static ArmError Invalid(string target, string message) => new() { Code = "InvalidParameter", Target = target, Message = message };
}
