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

    /// <summary>
    /// <see cref="Parse"/> of the values given to <paramref name="option"/> on runcmd's command line, where an item
    /// <c>@FILE</c> is read from FILE (as az reads any '@' value): its content, less one trailing newline, is that item
    /// (<c>NAME=value</c> or a bare value), so a secret need not sit in runcmd's own argv. A literal value starting
    /// with '@' is written <c>=@...</c> (nameless) or <c>NAME=@...</c>. Errors name the item's position, never its
    /// content, nor (for <paramref name="secret"/> values, where the "path" may be a mistyped secret) the path.
    /// </summary>
    public static IReadOnlyList<RunCommandParameter> ParseArguments(string option, IReadOnlyList<string> values, bool secret)
    {
        var items = new List<string>(values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            items.Add(values[i] is ['@', _, ..] item ? ReadItem(option, i + 1, item[1..], secret) : values[i]);
        }

        return Parse(items);
    }

    private static string ReadItem(string option, int position, string path, bool secret)
    {
        var named = secret ? $"the file given after '@' in item {position}" : $"item {position}: the file {path}";
        string content;
        try
        {
            content = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw CliException.Usage($"{option}: {named} does not exist (a value starting with '@' is written =@... or NAME=@...)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            // The exception's own message names the path, so only its kind is said.
            throw CliException.Usage($"{option}: {named} cannot be read ({(e is UnauthorizedAccessException ? "permission denied" : "I/O error")})");
        }

        return content.EndsWith("\r\n", StringComparison.Ordinal) ? content[..^2]
            : content.EndsWith('\n') ? content[..^1]
            : content;
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
