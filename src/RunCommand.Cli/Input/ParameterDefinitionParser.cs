using System.Globalization;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Input;

/// <summary>
/// Parses <c>--parameter-definitions</c> values of a command document:
/// <c>NAME[:TYPE][:required][=DEFAULT][:allowed=A|B|C]</c>, segments split at ':'.
/// TYPE is string (the default), int or bool; <c>=DEFAULT</c> may follow the name, the type or <c>required</c> and runs
/// to the next ':' (so a default cannot contain ':'; register such a document from JSON with --document @FILE).
/// Examples: <c>who=world</c>, <c>count:int:required</c>, <c>mode:string=fast:allowed=fast|slow</c>, <c>dry:bool=false</c>.
/// </summary>
internal static class ParameterDefinitionParser
{
    public const string Syntax = "NAME[:TYPE][:required][=DEFAULT][:allowed=A|B]";

    public static IReadOnlyList<RunCommandParameterDefinition> Parse(IEnumerable<string>? values) =>
        (values ?? []).Select(ParseOne).ToList();

    private static RunCommandParameterDefinition ParseOne(string value)
    {
        var segments = value.Split(':');
        string? type = null;
        string? defaultValue = null;
        var required = false;
        IReadOnlyList<string>? allowed = null;
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            if (i > 0 && segment.StartsWith("allowed=", StringComparison.Ordinal))
            {
                allowed = segment["allowed=".Length..].Split('|');
                continue;
            }

            var equals = segment.IndexOf('=', StringComparison.Ordinal);
            var word = equals < 0 ? segment : segment[..equals];
            if (equals >= 0)
            {
                defaultValue = defaultValue is null ? segment[(equals + 1)..] : throw Bad(value, "it gives a default twice");
            }

            if (i == 0)
            {
                continue;
            }

            switch (word.ToLowerInvariant())
            {
                case "string" or "int" or "bool" when type is null:
                    type = word.ToLowerInvariant();
                    break;
                case "required":
                    required = true;
                    break;
                default:
                    throw Bad(value, $"'{word}' is not a type (string, int, bool), 'required' or 'allowed=...'");
            }
        }

        var name = segments[0].Split('=')[0];
        if (name.Length == 0)
        {
            throw Bad(value, "the name is missing");
        }

        return new RunCommandParameterDefinition
        {
            Name = name,
            Type = type ?? "string",
            Required = required,
            DefaultValue = defaultValue,
            AllowedValues = allowed,
        };
    }

    private static CliException Bad(string value, string why) =>
        CliException.Usage(string.Create(CultureInfo.InvariantCulture, $"--parameter-definitions: '{value}': {why}; the syntax is {Syntax}"));
}
