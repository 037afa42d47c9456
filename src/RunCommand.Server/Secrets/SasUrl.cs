namespace RunCommand.Server.Secrets;

/// <summary>
/// A storage URL whose query is a SAS token (a secret): the server keeps the URL without its query in the public
/// spec (what GET shows) and the query sealed in the <see cref="SecretBundle"/>; only the agent gets them joined.
/// </summary>
public static class SasUrl
{
    /// <summary>The URL without query or fragment, and its query without the leading '?' (null when there is none).</summary>
    public static (string BaseUrl, string? Query) Split(string url)
    {
        var withoutFragment = url.Split('#', 2)[0];
        var parts = withoutFragment.Split('?', 2);
        return (parts[0], parts.Length == 2 && parts[1].Length > 0 ? parts[1] : null);
    }

    /// <summary>The full URL again; null stays null.</summary>
    public static string? Join(string? baseUrl, string? query) =>
        baseUrl is null ? null : query is null ? baseUrl : baseUrl + "?" + query;
}
