using System.Text;
using System.Text.Json.Nodes;

namespace RunCommand.Cli.Output;

/// <summary>
/// az's table: each object becomes a row of its scalar values (nested objects, lists and nulls left out, and the
/// <c>id</c>, <c>type</c> and <c>etag</c> keys), headed by the key with its first letter upper-cased; a list or a
/// scalar becomes <c>Column1..</c> or <c>Result</c>. Printed as tabulate's "simple" format: columns at least two
/// wider than their header, separated by two spaces, all left-aligned, a dashed rule under the header, no trailing
/// spaces; a cell with line breaks spans several lines.
/// </summary>
internal static class AutoTable
{
    private static readonly string[] SkippedKeys = ["id", "type", "etag"];

    /// <param name="result">The result, its objects' keys in the order to print.</param>
    public static string Write(JsonNode? result)
    {
        var rows = (result is JsonArray list ? list.ToList() : [result]).Select(Row).ToList();
        var headers = rows.SelectMany(row => row.Keys).Distinct().ToList();
        if (rows.Count == 0 || headers.Count == 0)
        {
            return "\n";
        }

        var cells = rows.Select(row => headers.Select(h => (row.TryGetValue(h, out var v) ? v : "").Split('\n')).ToArray()).ToList();
        var widths = headers.Select((header, column) =>
            cells.Select(row => row[column].Max(line => line.Length)).Append(header.Length + 2).Max()).ToArray();

        var text = new StringBuilder();
        Line(text, headers.Select(h => new[] { h }).ToArray(), widths);
        text.AppendJoin("  ", widths.Select(w => new string('-', w))).Append('\n');
        foreach (var row in cells)
        {
            Line(text, row, widths);
        }

        return text.ToString();
    }

    private static void Line(StringBuilder text, string[][] row, int[] widths)
    {
        var height = row.Max(cell => cell.Length);
        for (var i = 0; i < height; i++)
        {
            var line = string.Join("  ", row.Select((cell, column) => (i < cell.Length ? cell[i] : "").PadRight(widths[column])));
            text.Append(line.TrimEnd()).Append('\n');
        }
    }

    private static OrderedDictionary<string, string> Row(JsonNode? item)
    {
        var row = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        switch (item)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    if (!SkippedKeys.Contains(key) && value is JsonValue && PythonJson.Kind(value) != System.Text.Json.JsonValueKind.Null)
                    {
                        row[key.Length == 0 ? key : char.ToUpperInvariant(key[0]) + key[1..]] = PythonJson.Str(value);
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    row[$"Column{i + 1}"] = array[i] is null ? "" : PythonJson.Str(array[i]);
                }

                break;
            default:
                row["Result"] = item is null ? "" : PythonJson.Str(item);
                break;
        }

        return row;
    }
}
