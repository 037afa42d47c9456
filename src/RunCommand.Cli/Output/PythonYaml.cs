using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RunCommand.Cli.Output;

/// <summary>
/// YAML as az prints it (PyYAML's <c>safe_dump(default_flow_style=False, allow_unicode=True)</c>): block style, keys
/// sorted, lists under a key not indented, two-space nesting, <c>[]</c>/<c>{}</c> for empty ones; a string is plain
/// unless it would read as another type or holds indicators (then <c>'single-quoted'</c>), or holds control characters
/// or a space next to a line break (then <c>"double-quoted"</c> with escapes); long lines fold at spaces after column
/// 80; a plain scalar document ends with <c>...</c>.
/// </summary>
internal static partial class PythonYaml
{
    private const int BestWidth = 80;

    public static string Write(JsonNode? node)
    {
        var emitter = new Emitter();
        switch (node)
        {
            case JsonObject { Count: > 0 } obj:
                emitter.Mapping(obj, 0);
                break;
            case JsonArray { Count: > 0 } array:
                emitter.Sequence(array, 0);
                break;
            default:
                var plain = emitter.Scalar(node, 2);
                emitter.Text.Append('\n');
                if (plain)
                {
                    emitter.Text.Append("...\n");
                }

                break;
        }

        return emitter.Text.ToString();
    }

    private sealed class Emitter
    {
        public StringBuilder Text { get; } = new();

        private int Column
        {
            get
            {
                var start = Text.Length;
                while (start > 0 && Text[start - 1] != '\n')
                {
                    start--;
                }

                return Text.Length - start;
            }
        }

        public void Mapping(JsonObject obj, int indent)
        {
            var first = true;
            foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (!first)
                {
                    Text.Append(' ', indent);
                }

                first = false;
                Scalar(JsonValue.Create(key), indent + 2);
                Text.Append(':');
                Value(value, indent, indentlessSequence: true);
            }
        }

        public void Sequence(JsonArray array, int indent)
        {
            var first = true;
            foreach (var item in array)
            {
                if (!first)
                {
                    Text.Append(' ', indent);
                }

                first = false;
                Text.Append('-');
                switch (item)
                {
                    case JsonObject { Count: > 0 } obj:
                        Text.Append(' ');
                        Mapping(obj, indent + 2);
                        break;
                    case JsonArray { Count: > 0 } inner:
                        Text.Append(' ');
                        Sequence(inner, indent + 2);
                        break;
                    default:
                        Text.Append(' ');
                        Scalar(item, indent + 2);
                        Text.Append('\n');
                        break;
                }
            }
        }

        /// <summary>A mapping value after "key:": nested collections on the next lines, scalars on the same one.</summary>
        private void Value(JsonNode? value, int indent, bool indentlessSequence)
        {
            switch (value)
            {
                case JsonObject { Count: > 0 } obj:
                    Text.Append('\n').Append(' ', indent + 2);
                    Mapping(obj, indent + 2);
                    break;
                case JsonArray { Count: > 0 } array:
                    var at = indentlessSequence ? indent : indent + 2;
                    Text.Append('\n').Append(' ', at);
                    Sequence(array, at);
                    break;
                default:
                    Text.Append(' ');
                    Scalar(value, indent + 2);
                    Text.Append('\n');
                    break;
            }
        }

        /// <summary>Writes a scalar; true when it was written plain. <paramref name="indent"/> is where folded lines continue.</summary>
        public bool Scalar(JsonNode? node, int indent)
        {
            switch (node)
            {
                case JsonObject:
                    Text.Append("{}");
                    return false;
                case JsonArray:
                    Text.Append("[]");
                    return false;
            }

            switch (PythonJson.Kind(node))
            {
                case JsonValueKind.Null:
                    Text.Append("null");
                    return true;
                case JsonValueKind.True:
                    Text.Append("true");
                    return true;
                case JsonValueKind.False:
                    Text.Append("false");
                    return true;
                case JsonValueKind.Number:
                    Text.Append(node!.ToJsonString());
                    return true;
            }

            var value = node!.GetValue<string>();
            var analysis = Analysis.Of(value);
            if (!ReadsAsOtherType(value) && analysis.AllowPlain)
            {
                Plain(value, indent);
                return true;
            }

            if (analysis.AllowSingleQuoted)
            {
                SingleQuoted(value, indent);
            }
            else
            {
                DoubleQuoted(value, indent);
            }

            return false;
        }

        private void Plain(string text, int indent)
        {
            var words = text.Split(' ');
            for (var i = 0; i < words.Length; i++)
            {
                if (i > 0)
                {
                    // A single space past the width becomes a line break (PyYAML folds only there).
                    if (Column > BestWidth && words[i - 1].Length > 0 && words[i].Length > 0)
                    {
                        Text.Append('\n').Append(' ', indent);
                    }
                    else
                    {
                        Text.Append(' ');
                    }
                }

                Text.Append(words[i]);
            }
        }

        private void SingleQuoted(string text, int indent)
        {
            Text.Append('\'');
            var i = 0;
            while (i < text.Length)
            {
                var ch = text[i];
                if (ch == '\n')
                {
                    // A run of n line breaks is written as n+1 newlines (a single one would fold into a space).
                    var end = i;
                    while (end < text.Length && text[end] == '\n')
                    {
                        end++;
                    }

                    Text.Append('\n', end - i + 1).Append(' ', indent);

                    i = end;
                    continue;
                }

                if (ch == ' ' && i > 0 && i + 1 < text.Length && text[i + 1] != ' ' && text[i - 1] != ' ' && Column > BestWidth)
                {
                    Text.Append('\n').Append(' ', indent);
                    i++;
                    continue;
                }

                Text.Append(ch == '\'' ? "''" : ch.ToString());
                i++;
            }

            Text.Append('\'');
        }

        private void DoubleQuoted(string text, int indent)
        {
            Text.Append('"');
            for (var i = 0; i < text.Length; i++)
            {
                var ch = text[i];
                if (ch == ' ' && i > 0 && i < text.Length - 1 && Column + 1 > BestWidth)
                {
                    Text.Append("\\\n").Append(' ', indent).Append("\\ ");
                    continue;
                }

                Text.Append(Escape(ch));
            }

            Text.Append('"');
        }

        private static string Escape(char ch) => ch switch
        {
            '\0' => "\\0",
            '\a' => "\\a",
            '\b' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\v' => "\\v",
            '\f' => "\\f",
            '\r' => "\\r",
            '\x1B' => "\\e",
            '"' => "\\\"",
            '\\' => "\\\\",
            '\x85' => "\\N",
            '\u2028' => "\\L",
            '\u2029' => "\\P",
            '\uFEFF' => "\\ufeff",
            _ when ch is >= ' ' and <= '~' || ch is >= '\xA0' and <= '\uFFFD' => ch.ToString(),
            _ when ch <= '\xFF' => "\\x" + ((int)ch).ToString("X2", CultureInfo.InvariantCulture),
            _ => "\\u" + ((int)ch).ToString("X4", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>True when a plain scalar would be read back as null, a boolean, a number, a date or a merge key (YAML 1.1).</summary>
    private static bool ReadsAsOtherType(string value) => value.Length == 0 || OtherType().IsMatch(value);

    [GeneratedRegex(
        "^(?:~|null|Null|NULL"
        + "|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
        + "|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
        + "|[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*"
        + "|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)"
        + "|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
        + "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\\.[0-9]*)?(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?"
        + "|<<|=)$")]
    private static partial Regex OtherType();

    /// <summary>PyYAML's scalar analysis, reduced to the block context az's output uses.</summary>
    private readonly record struct Analysis(bool AllowPlain, bool AllowSingleQuoted)
    {
        private const string Breaks = "\n\x85\u2028\u2029";

        public static Analysis Of(string text)
        {
            if (text.Length == 0)
            {
                return new(false, true);
            }

            bool blockIndicators = text.StartsWith("---", StringComparison.Ordinal) || text.StartsWith("...", StringComparison.Ordinal);
            bool lineBreaks = false, special = false, spaceBreak = false, breakSpace = false;
            bool leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false;
            bool previousSpace = false, previousBreak = false;
            for (var i = 0; i < text.Length; i++)
            {
                var ch = text[i];
                var followedByWhitespace = i + 1 >= text.Length || "\0 \t\r\n\x85\u2028\u2029".Contains(text[i + 1]);
                var precededByWhitespace = i == 0 || "\0 \t\r\n\x85\u2028\u2029".Contains(text[i - 1]);
                if (i == 0)
                {
                    if ("#,[]{}&*!|>'\"%@`".Contains(ch) || (ch is '?' or ':' or '-' && followedByWhitespace))
                    {
                        blockIndicators = true;
                    }
                }
                else if ((ch == ':' && followedByWhitespace) || (ch == '#' && precededByWhitespace))
                {
                    blockIndicators = true;
                }

                if (Breaks.Contains(ch))
                {
                    lineBreaks = true;
                }

                if (!(ch == '\n' || ch is >= ' ' and <= '~') && !(ch == '\x85' || ch is >= '\xA0' and <= '\uD7FF' or >= '\uE000' and <= '\uFFFD' || char.IsSurrogate(ch)))
                {
                    special = true;
                }

                if (ch == ' ')
                {
                    leadingSpace |= i == 0;
                    trailingSpace |= i == text.Length - 1;
                    breakSpace |= previousBreak;
                    (previousSpace, previousBreak) = (true, false);
                }
                else if (Breaks.Contains(ch))
                {
                    leadingBreak |= i == 0;
                    trailingBreak |= i == text.Length - 1;
                    spaceBreak |= previousSpace;
                    (previousSpace, previousBreak) = (false, true);
                }
                else
                {
                    (previousSpace, previousBreak) = (false, false);
                }
            }

            var allowPlain = !(leadingSpace || leadingBreak || trailingSpace || trailingBreak || lineBreaks || blockIndicators);
            var allowSingle = true;
            if (spaceBreak || special || breakSpace)
            {
                allowPlain = allowSingle = false;
            }

            return new(allowPlain, allowSingle);
        }
    }
}
