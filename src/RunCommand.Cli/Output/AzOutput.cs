using System.Text.Json.Nodes;

namespace RunCommand.Cli.Output;

/// <summary>
/// Prints a result the way az does: <c>--query</c> first, then the format. A verb may name a table transformer
/// (a JMESPath expression choosing the columns), used for <c>-o table</c> only when no query is given, as in az.
/// </summary>
internal static class AzOutput
{
    public static void Write(TextWriter writer, JsonNode? result, OutputSettings settings, string? tableTransformer = null)
    {
        var queried = settings.Query is { } query ? JmesQuery.Apply(result, query) : result;
        if (queried is null && settings.Query is not null)
        {
            // knack prints nothing for a None result, whatever the format: no "null", "None" or empty table.
            return;
        }

        switch (settings.Format)
        {
            case OutputFormat.Json:
                writer.Write(PythonJson.Write(queried) + "\n");
                break;
            case OutputFormat.Jsonc:
                writer.Write(settings.Color ? Colors.Json(PythonJson.Write(queried) + "\n") : PythonJson.Write(queried) + "\n");
                break;
            case OutputFormat.Yaml:
                writer.Write(PythonYaml.Write(queried));
                break;
            case OutputFormat.Yamlc:
                writer.Write(settings.Color ? Colors.Yaml(PythonYaml.Write(queried)) : PythonYaml.Write(queried));
                break;
            case OutputFormat.Table:
                var table = settings.Query is null && tableTransformer is not null ? JmesQuery.Apply(queried, tableTransformer) : queried;
                writer.Write(AutoTable.Write(table));
                break;
            case OutputFormat.Tsv:
                writer.Write(TsvText.Write(queried));
                break;
            case OutputFormat.None:
                break;
        }
    }
}
