using System.Globalization;
using System.Text.RegularExpressions;
using RunCommand.Contracts.Arm;

namespace RunCommand.Server.Arm.Documents;

/// <summary>What a command document turns into for one run: the script and the parameters the agent receives.</summary>
/// <param name="Script">The document's lines joined by "\n" (for RunShellScript: the caller's lines).</param>
/// <param name="Parameters">The caller's public parameters plus the defaults of the ones not given.</param>
/// <param name="Errors">Every problem found; when not empty, the run must not start.</param>
public sealed record DocumentResolution(string Script, IReadOnlyList<RunCommandParameter> Parameters, IReadOnlyList<ArmError> Errors);

/// <summary>
/// Checks the parameters of a run against its command document and applies defaults. Values are never echoed in
/// errors (a protected parameter may be a secret); names and paths are.
/// </summary>
public static partial class DocumentResolver
{
    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    public static partial Regex EnvironmentName();

    /// <param name="document">The resolved command document.</param>
    /// <param name="parameters">Public parameters as given.</param>
    /// <param name="protectedParameters">Protected parameters as given (checked too; stay sealed, get no defaults here).</param>
    /// <param name="parametersPath">JSON path of the public parameters, e.g. <c>properties.parameters</c>.</param>
    /// <param name="protectedPath">JSON path of the protected parameters.</param>
    /// <param name="scriptLines">The caller's lines; only RunShellScript takes them.</param>
    public static DocumentResolution Resolve(
        RunCommandDocument document,
        IReadOnlyList<RunCommandParameter> parameters,
        IReadOnlyList<RunCommandParameter> protectedParameters,
        string parametersPath,
        string protectedPath,
        IReadOnlyList<string>? scriptLines = null)
    {
        if (BuiltInDocuments.IsRunShellScript(document))
        {
            // The generic runner: parameters pass through, the caller's lines are the script.
            return new DocumentResolution(string.Join("\n", scriptLines ?? []), parameters, []);
        }

        var errors = new List<ArmError>();
        var definitions = document.Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var given = new HashSet<string>(StringComparer.Ordinal);
        Check(parameters, parametersPath);
        Check(protectedParameters, protectedPath);

        foreach (var definition in document.Parameters.Where(d => d.Required && !given.Contains(d.Name)))
        {
            errors.Add(Invalid(parametersPath, $"Parameter '{definition.Name}' is required by command '{document.Id}' and was not given."));
        }

        var resolved = parameters.ToList();
        resolved.AddRange(document.Parameters
            .Where(d => !given.Contains(d.Name) && d.DefaultValue is not null)
            .Select(d => new RunCommandParameter { Name = d.Name, Value = d.DefaultValue! }));
        return new DocumentResolution(string.Join("\n", document.Script), resolved, errors);

        void Check(IReadOnlyList<RunCommandParameter> list, string path)
        {
            for (var i = 0; i < list.Count; i++)
            {
                var target = $"{path}[{i}]";
                var name = list[i].Name;
                if (name.Length == 0)
                {
                    errors.Add(Invalid(target, $"'{target}' has no name: command '{document.Id}' takes named parameters only ({Known()})."));
                }
                else if (!definitions.TryGetValue(name, out var definition))
                {
                    errors.Add(Invalid(target, $"Parameter '{name}' is not a parameter of command '{document.Id}' ({Known()})."));
                }
                else if (!given.Add(name))
                {
                    errors.Add(Invalid(target, $"Parameter '{name}' is given more than once."));
                }
                else if (CheckValue(definition, list[i].Value) is { } problem)
                {
                    errors.Add(Invalid(target, $"Parameter '{name}' {problem}."));
                }
            }
        }

        string Known() => document.Parameters.Count == 0
            ? "it takes none"
            : "it takes: " + string.Join(", ", document.Parameters.Select(p => p.Required ? p.Name + " (required)" : p.Name));
    }

    /// <summary>Null when <paramref name="value"/> suits the definition; otherwise what is wrong, phrased to follow the parameter's name.</summary>
    public static string? CheckValue(RunCommandParameterDefinition definition, string value)
    {
        switch (definition.Type)
        {
            case ParameterTypes.Int when !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _):
                return "must be an int (a whole number such as 42 or -1)";
            case ParameterTypes.Bool when !IsBool(value):
                return "must be a bool (true or false)";
        }

        if (definition.AllowedValues is { Count: > 0 } allowed && !allowed.Contains(value, StringComparer.Ordinal))
        {
            return "must be one of: " + string.Join(", ", allowed);
        }

        return null;
    }

    private static bool IsBool(string value) =>
        string.Equals(value, "true", StringComparison.OrdinalIgnoreCase) || string.Equals(value, "false", StringComparison.OrdinalIgnoreCase);

    private static ArmError Invalid(string target, string message) => new() { Code = "InvalidParameter", Target = target, Message = message };
}
