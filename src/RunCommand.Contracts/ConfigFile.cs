namespace RunCommand.Contracts;

/// <summary>
/// The config files the packages install (<c>/etc/runcmd/agent.conf</c>, <c>/etc/runcmd/server.conf</c>), read by the
/// agent and the server through <c>--config FILE</c>. One setting a line, <c>name = value</c>, where name is a long
/// command-line option without its dashes (<c>server = https://cp:5080</c>); <c>#</c> starts a comment line; a name may
/// repeat where its option does (<c>tags = role=web</c>). An option given on the command line wins over the file.
/// </summary>
public static class ConfigFile
{
    public const string Option = "--config";

    /// <summary>
    /// Returns <paramref name="args"/> without <c>--config FILE</c>, preceded by the file's settings as options
    /// (those the command line does not give itself). Throws <see cref="FormatException"/> with a one-line reason.
    /// </summary>
    public static string[] Expand(string[] args)
    {
        var index = Array.IndexOf(args, Option);
        if (index < 0)
        {
            return args;
        }

        if (index == args.Length - 1)
        {
            throw new FormatException($"{Option} needs a file name");
        }

        var path = args[index + 1];
        var rest = args.Take(index).Concat(args.Skip(index + 2)).ToArray();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"cannot read {Option} {path}: {e.Message}");
        }

        var given = rest.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=', 2)[0]).ToHashSet(StringComparer.Ordinal);
        var fromFile = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? "" : line[..eq].Trim();
            if (name.Length == 0 || name.StartsWith('-') || name.Any(char.IsWhiteSpace))
            {
                throw new FormatException($"{path} line {i + 1}: expected 'name = value' (name: a long option without '--'), not '{line}'");
            }

            if (!given.Contains("--" + name))
            {
                fromFile.Add("--" + name);
                fromFile.Add(line[(eq + 1)..].Trim());
            }
        }

        return [.. fromFile, .. rest];
    }
}
