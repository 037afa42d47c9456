using System.Text;
using System.Text.RegularExpressions;

namespace RunCommand.Cli.Output;

/// <summary>
/// Terminal colours for <c>-o jsonc</c> and <c>-o yamlc</c> in the spirit of az's (pygments' terminal palette): keys
/// bright blue, strings yellow, numbers and literals blue. Only used when stdout is a terminal.
/// </summary>
internal static partial class Colors
{
    private const string Reset = "\x1b[39;49;00m";
    private const string Key = "\x1b[94m";
    private const string Text = "\x1b[33m";
    private const string Literal = "\x1b[34m";

    public static string Json(string json) => JsonToken().Replace(json, match =>
        match.Groups["key"].Success ? Key + match.Groups["key"].Value + Reset + match.Groups["colon"].Value
        : match.Groups["str"].Success ? Text + match.Value + Reset
        : Literal + match.Value + Reset);

    public static string Yaml(string yaml)
    {
        var text = new StringBuilder();
        foreach (var line in yaml.Split('\n'))
        {
            var match = YamlKey().Match(line);
            text.Append(match.Success
                ? match.Groups["lead"].Value + Key + match.Groups["key"].Value + Reset + ":" + Value(match.Groups["rest"].Value)
                : Value(line));
            text.Append('\n');
        }

        return text.ToString(0, text.Length - 1);
    }

    private static string Value(string rest) => rest.Trim().Length == 0 ? rest : Text + rest + Reset;

    [GeneratedRegex("(?<key>\"(?:[^\"\\\\]|\\\\.)*\")(?<colon>:)|(?<str>\"(?:[^\"\\\\]|\\\\.)*\")|-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?|\\btrue\\b|\\bfalse\\b|\\bnull\\b")]
    private static partial Regex JsonToken();

    [GeneratedRegex("^(?<lead>[ -]*)(?<key>[^ :'\"][^:]*):(?<rest>( .*)?)$")]
    private static partial Regex YamlKey();
}
