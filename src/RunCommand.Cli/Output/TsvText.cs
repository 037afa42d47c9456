using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunCommand.Cli.Output;

/// <summary>
/// az's tsv: one line per item of a list (or one for a single result); an object's values in key order, a nested
/// list as its length, a nested object as an empty field, null as <c>None</c>, booleans inside a row as
/// <c>True</c>/<c>False</c> and a bare boolean row as <c>true</c>/<c>false</c>. No header.
/// </summary>
internal static class TsvText
{
    /// <param name="result">The result, its objects' keys already in the order to print (sorted unless a query ordered them).</param>
    public static string Write(JsonNode? result)
    {
        var text = new StringBuilder();
        foreach (var item in result is JsonArray list ? list : [result])
        {
            WriteRow(text, item);
        }

        return text.ToString();
    }

    private static void WriteRow(StringBuilder text, JsonNode? item)
    {
        switch (item)
        {
            case JsonObject obj:
                text.AppendJoin('\t', obj.Select(p => Field(p.Value)));
                break;
            case JsonArray array:
                text.AppendJoin('\t', array.Select(Field));
                break;
            default:
                text.Append(PythonJson.Kind(item) switch
                {
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => PythonJson.Str(item),
                });
                break;
        }

        text.Append('\n');
    }

    private static string Field(JsonNode? value) => value switch
    {
        JsonArray array => array.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
        JsonObject => "",
        _ => PythonJson.Str(value),
    };
}
