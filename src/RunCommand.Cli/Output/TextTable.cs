namespace RunCommand.Cli.Output;

/// <summary>az-style aligned columns: header, a dashed rule under each column, then the rows.</summary>
internal static class TextTable
{
    private const string Gap = "  ";

    public static void Write(TextWriter writer, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var cells = rows.Select(row => row.Select(Clean).ToArray()).ToList();
        var widths = headers.Select((header, column) =>
            cells.Select(row => row[column].Length).Append(header.Length).Max()).ToArray();

        WriteRow(writer, headers, widths);
        WriteRow(writer, widths.Select(width => new string('-', width)).ToArray(), widths);
        foreach (var row in cells)
        {
            WriteRow(writer, row, widths);
        }
    }

    /// <summary>Tab-separated values, one line per row, no header (for scripts, like az's tsv).</summary>
    public static void WriteTsv(TextWriter writer, IEnumerable<IReadOnlyList<string>> rows)
    {
        foreach (var row in rows)
        {
            writer.WriteLine(string.Join('\t', row.Select(Clean)));
        }
    }

    private static void WriteRow(TextWriter writer, IReadOnlyList<string> values, int[] widths)
    {
        var line = string.Join(Gap, values.Select((value, column) => value.PadRight(widths[column])));
        writer.WriteLine(line.TrimEnd());
    }

    /// <summary>One cell stays on one line: tabs and line breaks become spaces.</summary>
    private static string Clean(string value) =>
        value.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\n', ' ').Replace('\r', ' ').Replace('\t', ' ');
}
