using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunCommand.Cli.Output;

/// <summary>
/// JSON text as az prints it (Python's <c>json.dumps(indent=2, sort_keys=True, ensure_ascii=False)</c>): two-space
/// indentation, keys sorted, non-ASCII text kept, only quotes, backslashes and control characters escaped.
/// </summary>
internal static class PythonJson
{
    public static string Write(JsonNode? node)
    {
        var text = new StringBuilder();
        Append(text, node, 0);
        return text.ToString();
    }

    private static void Append(StringBuilder text, JsonNode? node, int depth)
    {
        switch (node)
        {
            case null:
                text.Append("null");
                break;
            case JsonObject obj when obj.Count == 0:
                text.Append("{}");
                break;
            case JsonObject obj:
                text.Append("{\n");
                var first = true;
                foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    text.Append(first ? "" : ",\n").Append(' ', (depth + 1) * 2);
                    AppendString(text, key);
                    text.Append(": ");
                    Append(text, value, depth + 1);
                    first = false;
                }

                text.Append('\n').Append(' ', depth * 2).Append('}');
                break;
            case JsonArray array when array.Count == 0:
                text.Append("[]");
                break;
            case JsonArray array:
                text.Append("[\n");
                for (var i = 0; i < array.Count; i++)
                {
                    text.Append(i == 0 ? "" : ",\n").Append(' ', (depth + 1) * 2);
                    Append(text, array[i], depth + 1);
                }

                text.Append('\n').Append(' ', depth * 2).Append(']');
                break;
            default:
                if (node.GetValueKind() == JsonValueKind.String)
                {
                    AppendString(text, node.GetValue<string>());
                }
                else
                {
                    text.Append(node.ToJsonString());
                }

                break;
        }
    }

    public static void AppendString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var ch in value)
        {
            switch (ch)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case < ' ': text.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: text.Append(ch); break;
            }
        }

        text.Append('"');
    }

    /// <summary>A scalar as Python's <c>str()</c> prints it (az's tsv and table cells): None, True, False, numbers, text.</summary>
    public static string Str(JsonNode? node) => node switch
    {
        null => "None",
        _ => node.GetValueKind() switch
        {
            JsonValueKind.String => node.GetValue<string>(),
            JsonValueKind.True => "True",
            JsonValueKind.False => "False",
            JsonValueKind.Null => "None",
            _ => node.ToJsonString(),
        },
    };

    /// <summary>The JSON kind of a node, null counting as <see cref="JsonValueKind.Null"/>.</summary>
    public static JsonValueKind Kind(JsonNode? node) => node?.GetValueKind() ?? JsonValueKind.Null;
}
