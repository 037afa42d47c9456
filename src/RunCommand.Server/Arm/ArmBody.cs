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
        RequireJsonMediaType(request);
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = MaxJsonDepth }, cancellationToken);
        }
        catch (JsonException e)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent",
                $"The request content was invalid and could not be deserialized: {Describe(e)} (line {e.LineNumber + 1}, position {e.BytePositionInLine + 1}).");
        }

        // The parser checks the structure, not the text inside strings: a string that is not Unicode would throw from
        // the first reader that takes it, anywhere in the request's handling, so it is refused here, once.
        if (InvalidText(document.RootElement) is { } path)
        {
            document.Dispose();
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: a string is not valid Unicode text "
                + "(invalid UTF-8, or an escaped surrogate without its pair).", path.Length > 0 ? path : null);
        }

        return document;
    }

    /// <summary>
    /// A body declared as something else than JSON is refused as ARM does (415 UnsupportedMediaType): a form or text
    /// body that happens to parse is a client sending the wrong thing. A body with no Content-Type is read as JSON.
    /// </summary>
    private static void RequireJsonMediaType(HttpRequest request)
    {
        if (string.IsNullOrEmpty(request.ContentType))
        {
            return;
        }

        var mediaType = Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed.MediaType.Value : null;
        if (mediaType is not null && (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("text/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            return;
        }

        throw new ArmRequestException(StatusCodes.Status415UnsupportedMediaType, "UnsupportedMediaType",
            $"The request's content type '{mediaType ?? "(unreadable)"}' is not supported; send the body as 'application/json'.");
    }

    /// <summary>
    /// What went wrong in a JsonException, in words that name no .NET type and no reader internals: the parser's own
    /// sentence for malformed JSON, or that a value has the wrong type.
    /// </summary>
    public static string Describe(JsonException e)
    {
        var message = e.Message;
        foreach (var internals in (string[])[" Path:", " LineNumber:", " Change the reader options."])
        {
            if (message.IndexOf(internals, StringComparison.Ordinal) is var at and >= 0)
            {
                message = message[..at];
            }
        }

        if (message.StartsWith("The JSON value could not be converted to", StringComparison.Ordinal) || message.Length == 0)
        {
            var where = e.Path is { Length: > 1 } path ? $"'{path.TrimStart('$').TrimStart('.')}'" : "the body";
            return $"{where} does not have the expected type (a string, number, boolean, array or object, as documented).";
        }

        return message.TrimEnd();
    }

    /// <summary>
    /// The path (below <paramref name="element"/>) of the first property name or string value that is not valid
    /// Unicode, "" for the element itself, or null when every string decodes. Paths are built only for a find.
    /// </summary>
    private static string? InvalidText(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(() => element.GetString()) ? null : "";
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (!Decodes(() => property.Name))
                    {
                        return "";
                    }

                    if (InvalidText(property.Value) is { } below)
                    {
                        return below.Length == 0 || below[0] == '[' ? property.Name + below : $"{property.Name}.{below}";
                    }
                }

                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (InvalidText(item) is { } below)
                    {
                        return $"[{index}]" + (below.Length == 0 || below[0] == '[' ? below : "." + below);
                    }

                    index++;
                }

                return null;
            default:
                return null;
        }
    }

    private static bool Decodes(Func<string?> read)
    {
        try
        {
            read();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Reads a body into a source-generated wire type; an empty or malformed body is a 400.</summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
        where T : class
    {
        RequireJsonMediaType(request);
        try
        {
            var bounded = (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)(Requests.GetTypeInfo(typeof(T)) ?? typeInfo);
            return await JsonSerializer.DeserializeAsync(request.Body, bounded, cancellationToken)
                ?? throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent", "The request body is empty.");
        }
        catch (JsonException e)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent",
                $"The request content was invalid and could not be deserialized: {Describe(e)}", e.Path?.TrimStart('$').TrimStart('.') is { Length: > 0 } target ? target : null);
        }
    }
}
