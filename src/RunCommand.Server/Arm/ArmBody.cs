using System.Text.Json;

namespace RunCommand.Server.Arm;

/// <summary>Reads ARM request bodies; malformed JSON is a 400 InvalidRequestContent naming the line and position.</summary>
public static class ArmBody
{
    /// <summary>Nesting of objects and arrays in any request body; deeper is a 400 (the readers recurse per level).</summary>
    public const int MaxJsonDepth = 32;

    // The wire types' context with the request depth bound (the shared Default keeps System.Text.Json's 64 for answers).
    private static readonly RunCommand.Contracts.ContractsJsonContext Requests =
        new(new JsonSerializerOptions(RunCommand.Contracts.ContractsJsonContext.Default.Options) { MaxDepth = MaxJsonDepth, TypeInfoResolver = null });

    public static async Task<JsonDocument> ReadJsonAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = MaxJsonDepth }, cancellationToken);
        }
        catch (JsonException e)
        {
            // The message of a JsonException names no value from the body, only the position.
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent",
                $"The request content was invalid and could not be deserialized: {e.Message.Split(" Path:")[0]} (line {e.LineNumber + 1}, position {e.BytePositionInLine + 1}).");
        }
    }

    /// <summary>Reads a body into a source-generated wire type; an empty or malformed body is a 400.</summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var bounded = (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)(Requests.GetTypeInfo(typeof(T)) ?? typeInfo);
            return await JsonSerializer.DeserializeAsync(request.Body, bounded, cancellationToken)
                ?? throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent", "The request body is empty.");
        }
        catch (JsonException e)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent",
                $"The request content was invalid and could not be deserialized: {e.Message.Split(" Path:")[0]}", e.Path);
        }
    }
}
