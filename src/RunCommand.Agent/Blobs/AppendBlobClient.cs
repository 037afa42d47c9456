using System.Net;
using System.Net.Http.Headers;
using RunCommand.Agent.Protocol;

namespace RunCommand.Agent.Blobs;

/// <summary>
/// A blob call failed. <see cref="Message"/> names the status (or network error) and the host, never the URL's
/// query: the query is a SAS token, a secret.
/// </summary>
public sealed class BlobRequestException(string message, HttpStatusCode? status, string? errorCode) : Exception(message)
{
    /// <summary>The HTTP status of the answer; null when there was no answer (DNS, connection, timeout).</summary>
    public HttpStatusCode? Status { get; } = status;

    /// <summary>The storage error code (<c>x-ms-error-code</c>), e.g. <c>AuthorizationPermissionMismatch</c>; null when absent.</summary>
    public string? ErrorCode { get; } = errorCode;

    /// <summary>True when trying again cannot help (the SAS does not allow it, the blob is of another type, ...).</summary>
    public bool IsPermanent => Status is HttpStatusCode.BadRequest or HttpStatusCode.Forbidden or HttpStatusCode.NotFound
        or HttpStatusCode.Conflict or HttpStatusCode.MethodNotAllowed or HttpStatusCode.RequestEntityTooLarge;
}

/// <summary>
/// The three calls of the Azure Blob REST protocol that an append blob needs, over plain <see cref="HttpClient"/>
/// (NativeAOT-friendly, no SDK): Put Blob (create or replace as an empty append blob), Get Blob Properties
/// (length) and Append Block (at most <see cref="MaxBlockBytes"/>, made idempotent by an append position
/// condition). The URL carries its own SAS token in the query (sent, never logged or put in a message), or every call
/// is signed with <paramref name="key"/> (Shared Key, the agent's storage credential of a managed identity).
/// </summary>
public sealed class AppendBlobClient(HttpClient http, Uri blobUri, StorageKey? key = null)
{
    /// <summary>Largest Append Block of <see cref="ApiVersion"/> (100 MiB, from service version 2022-11-02 on).</summary>
    public const int MaxBlockBytes = 100 * 1024 * 1024;

    /// <summary>
    /// Largest Append Block of service versions before 2022-11-02 (4 MiB): what a blob falls back to when its service
    /// refuses a larger block (413, an older Azure Stack or emulator).
    /// </summary>
    public const int LegacyMaxBlockBytes = 4 * 1024 * 1024;

    /// <summary>Storage REST version sent with every call (the first with 100 MiB append blocks).</summary>
    public const string ApiVersion = "2022-11-02";

    /// <summary>Host (and port) of the blob, the only part of the URL that may appear in messages.</summary>
    public string Host => blobUri.IsDefaultPort ? blobUri.Host : $"{blobUri.Host}:{blobUri.Port}";

    /// <summary>Creates the blob as an empty append blob, replacing whatever blob (of any type) had that name.</summary>
    public async Task CreateAsync(CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Put, blobUri);
        request.Headers.Add("x-ms-blob-type", "AppendBlob");
        request.Content = new ByteArrayContent([]);
        request.Content.Headers.ContentLength = 0;
        using var response = await SendAsync(request, cancellationToken);
        await ThrowUnlessAsync(response, HttpStatusCode.Created, cancellationToken);
    }

    /// <summary>The blob's current length in bytes (Get Blob Properties); fails when it is not an append blob.</summary>
    public async Task<long> GetLengthAsync(CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Head, blobUri);
        using var response = await SendAsync(request, cancellationToken);
        await ThrowUnlessAsync(response, HttpStatusCode.OK, cancellationToken);
        if (response.Headers.TryGetValues("x-ms-blob-type", out var types) && types.FirstOrDefault() is { } type && type != "AppendBlob")
        {
            throw new BlobRequestException($"the blob is a {type}, not an AppendBlob (host {Host})", HttpStatusCode.Conflict, "InvalidBlobType");
        }

        return response.Content.Headers.ContentLength
            ?? throw new BlobRequestException($"no Content-Length in the blob's properties (host {Host})", null, null);
    }

    /// <summary>
    /// Appends <paramref name="block"/> at <paramref name="position"/>. Returns the blob length after the call. When
    /// the blob is not <paramref name="position"/> bytes long (a retry of an append that did land, or another
    /// writer), nothing is written and the true length is returned: the caller continues from there.
    /// </summary>
    public Task<long> AppendAsync(long position, ReadOnlyMemory<byte> block, CancellationToken cancellationToken) =>
        AppendAsync(position, new ReadOnlyMemoryContent(block), block.Length, cancellationToken);

    /// <summary>
    /// Appends <paramref name="length"/> bytes of the file at <paramref name="path"/> from offset <paramref name="position"/>
    /// (the blob mirrors the file from its first byte), streamed from the file: a block of any size costs one pooled
    /// buffer. Otherwise as <see cref="AppendAsync(long, ReadOnlyMemory{byte}, CancellationToken)"/>.
    /// </summary>
    public Task<long> AppendFileAsync(long position, string path, long length, CancellationToken cancellationToken) =>
        AppendAsync(position, new FileRangeContent(path, position, length), length, cancellationToken);

    private async Task<long> AppendAsync(long position, HttpContent content, long length, CancellationToken cancellationToken)
    {
        using var disposeContent = content;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxBlockBytes);
        if (length == 0)
        {
            return position;
        }

        using var request = NewRequest(HttpMethod.Put, new Uri(blobUri + (string.IsNullOrEmpty(blobUri.Query) ? "?" : "&") + "comp=appendblock"));
        request.Headers.Add("x-ms-blob-condition-appendpos", position.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Content = content;
        request.Content.Headers.ContentLength = length;
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.PreconditionFailed && ErrorCodeOf(response) == "AppendPositionConditionNotMet")
        {
            return await GetLengthAsync(cancellationToken);
        }

        await ThrowUnlessAsync(response, HttpStatusCode.Created, cancellationToken);
        return position + length;
    }

    private static HttpRequestMessage NewRequest(HttpMethod method, Uri uri)
    {
        var request = new HttpRequestMessage(method, uri);
        request.Headers.Add("x-ms-version", ApiVersion);
        request.Headers.Add("x-ms-date", DateTimeOffset.UtcNow.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (key is not null)
        {
            SharedKey.Sign(request, key);
        }

        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            // The exception's own message may quote the URL: build a new one from its kind and the host only.
            throw new BlobRequestException($"{e.HttpRequestError} error talking to host {Host}", null, null);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BlobRequestException($"timeout talking to host {Host}", null, null);
        }
    }

    private async Task ThrowUnlessAsync(HttpResponseMessage response, HttpStatusCode expected, CancellationToken cancellationToken)
    {
        if (response.StatusCode == expected)
        {
            return;
        }

        var code = ErrorCodeOf(response);
        // Drain a small error body so the connection can be reused; its text is not used (it may echo the URL).
        await response.Content.ReadAsByteArrayAsync(cancellationToken);
        throw new BlobRequestException(
            $"HTTP {(int)response.StatusCode}{(code is null ? "" : " " + code)} from host {Host}", response.StatusCode, code);
    }

    private static string? ErrorCodeOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-ms-error-code", out var values) ? values.FirstOrDefault() : null;
}
