using System.Text.Json.Nodes;
using DevLab.JmesPath;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace RunCommand.Cli.Output;

/// <summary>az's <c>--query</c>: a JMESPath expression applied to the result before it is printed (JmesPath.Net).</summary>
internal static class JmesQuery
{
    /// <summary>Checks the expression's syntax; the error names the expression and the problem, nothing internal.</summary>
    public static void Validate(string expression)
    {
        try
        {
            new JmesPath().Parse(expression);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw CliException.Usage($"argument --query: invalid jmespath_type value: '{expression}' ({OneLine(e.Message)})");
        }
    }

    /// <param name="input">The result; its objects keep their key order, and objects the query builds keep the query's order.</param>
    public static JsonNode? Apply(JsonNode? input, string expression)
    {
        JToken token;
        // Strings stay strings: Newtonsoft would otherwise turn ISO timestamps into dates and print them differently.
        using (var reader = new JsonTextReader(new StringReader(input?.ToJsonString() ?? "null")) { DateParseHandling = DateParseHandling.None })
        {
            token = JToken.ReadFrom(reader);
        }

        JToken result;
        try
        {
            result = new JmesPath().Parse(expression).Transform(token).AsJToken();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new CliException($"--query '{expression}' failed: {OneLine(e.Message)}", ExitCodes.Usage);
        }

        return result is null || result.Type == JTokenType.Null ? null : JsonNode.Parse(result.ToString(Formatting.None));
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
