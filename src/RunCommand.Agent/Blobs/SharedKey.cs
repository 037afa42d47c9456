using System.Security.Cryptography;
using System.Text;

namespace RunCommand.Agent.Blobs;

/// <summary>
/// Azure Storage's Shared Key authorization for the Blob service (REST version 2015-02-21 and later): the request's
/// method, standard headers, <c>x-ms-*</c> headers and resource are signed with HMAC-SHA256 under the account key.
/// Hand-written (a few lines) because the agent stays SDK-free for NativeAOT; the tests check it against Azurite and
/// the Azure SDK's own client reads what it wrote.
/// </summary>
internal static class SharedKey
{
    private static readonly string[] StandardHeaders = ["If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"];

    /// <summary>Adds <c>Authorization: SharedKey account:signature</c>; the content and x-ms headers must be final.</summary>
    public static void Sign(HttpRequestMessage request, StorageKey key)
    {
        var content = request.Content?.Headers;
        var text = new StringBuilder();
        text.Append(request.Method.Method).Append('\n');
        text.Append(content is null ? "" : string.Join(",", content.ContentEncoding)).Append('\n');
        text.Append(content is null ? "" : string.Join(",", content.ContentLanguage)).Append('\n');
        text.Append(content?.ContentLength is long length && length > 0 ? length.ToString(System.Globalization.CultureInfo.InvariantCulture) : "").Append('\n');
        text.Append(content?.ContentMD5 is { } md5 ? Convert.ToBase64String(md5) : "").Append('\n');
        text.Append(content?.ContentType?.ToString() ?? "").Append('\n');
        text.Append('\n'); // Date: x-ms-date is signed instead
        foreach (var name in StandardHeaders)
        {
            text.Append(request.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : "").Append('\n');
        }

        var msHeaders = request.Headers.Concat(content ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
            .Where(h => h.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
            .Select(h => (Name: h.Key.ToLowerInvariant(), Value: string.Join(",", h.Value.Select(v => v.Trim()))))
            .OrderBy(h => h.Name, StringComparer.Ordinal);
        foreach (var (name, value) in msHeaders)
        {
            text.Append(name).Append(':').Append(value).Append('\n');
        }

        var uri = request.RequestUri!;
        text.Append('/').Append(key.AccountName).Append(uri.AbsolutePath.Length > 0 ? uri.AbsolutePath : "/");
        var query = uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .GroupBy(p => Uri.UnescapeDataString(p[0]).ToLowerInvariant(), p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "")
            .OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var parameter in query)
        {
            text.Append('\n').Append(parameter.Key).Append(':').Append(string.Join(",", parameter.Order(StringComparer.Ordinal)));
        }

        var signature = HMACSHA256.HashData(key.Key, Encoding.UTF8.GetBytes(text.ToString()));
        request.Headers.TryAddWithoutValidation("Authorization", $"SharedKey {key.AccountName}:{Convert.ToBase64String(signature)}");
    }
}
