using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Input;

/// <summary>
/// Parses <c>--parameters</c> and <c>--protected-parameters</c> values: <c>name=value</c> is a named parameter (split at
/// the first '=', so <c>a=b=c</c> is a with value <c>b=c</c>); a value without '=' is nameless (positional); a leading
/// '=' makes the rest a nameless value even when it contains '=' (<c>=a=b</c> is the positional value <c>a=b</c>).
/// </summary>
internal static class ParameterParser
{
    public static IReadOnlyList<RunCommandParameter> Parse(IEnumerable<string>? values)
    {
        var parameters = new List<RunCommandParameter>();
        foreach (var value in values ?? [])
        {
            var separator = value.IndexOf('=', StringComparison.Ordinal);
            parameters.Add(separator < 0
                ? new RunCommandParameter { Name = "", Value = value }
                : new RunCommandParameter { Name = value[..separator], Value = value[(separator + 1)..] });
        }

        return parameters;
    }

    /// <summary><c>--tags k=v k2=v2</c>; a bare key gets an empty value, as in az.</summary>
    public static IReadOnlyDictionary<string, string> ParseTags(IEnumerable<string>? values)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values ?? [])
        {
            var separator = value.IndexOf('=', StringComparison.Ordinal);
            var key = separator < 0 ? value : value[..separator];
            if (key.Length == 0)
            {
                throw CliException.Usage($"--tags: '{value}' has no key; use key=value");
            }

            tags[key] = separator < 0 ? "" : value[(separator + 1)..];
        }

        return tags;
    }
}
