using Microsoft.AspNetCore.Http.Features;
using RunCommand.Server.Arm;

namespace RunCommand.Server.Hosting;

/// <summary>
/// The request size limits, enforced in the application so each refusal is an ARM error with the security headers
/// (Kestrel's own refusals are bare status lines). Kestrel's limits are set wider (<see cref="KestrelRequestLineBytes"/>,
/// <see cref="KestrelHeaderBytes"/>) and stay the last resort for what exceeds even those. A body over the limit is
/// read and thrown away (up to <see cref="DrainBytes"/>) before the 413, so a client that sends it without waiting for
/// <c>100-continue</c> reads the answer instead of a connection reset.
/// </summary>
public sealed class HttpLimits
{
    /// <summary>Characters of the request target (path and query); longer is 414.</summary>
    public const int MaxRequestTargetLength = 8 * 1024;

    /// <summary>Bytes of all request headers together; more is 431.</summary>
    public const int MaxHeaderBytes = 64 * 1024;

    /// <summary>Bytes of a request body; more is 413 (agent reports carry up to 1 MiB per stream, base64-encoded).</summary>
    public const long MaxBodyBytes = 8 * 1024 * 1024;

    /// <summary>The most of an oversized body read and discarded so the 413 can be read; a larger one is refused unread.</summary>
    public const long DrainBytes = 32 * 1024 * 1024;

    /// <summary>Kestrel's own cap on the request line, past which it answers a bare 414.</summary>
    public const int KestrelRequestLineBytes = 256 * 1024;

    /// <summary>Kestrel's own cap on the headers, past which it answers a bare 431.</summary>
    public const int KestrelHeaderBytes = 256 * 1024;

    private readonly RequestDelegate _next;

    public HttpLimits(RequestDelegate next)
    {
        _next = next;
    }

    public async Task InvokeAsync(HttpContext http)
    {
        var target = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? http.Request.Path.Value ?? "";
        if (target.Length > MaxRequestTargetLength)
        {
            throw new ArmRequestException(StatusCodes.Status414UriTooLong, "RequestUriTooLong",
                $"The request URL has {target.Length:N0} characters; the limit is {MaxRequestTargetLength:N0}.");
        }

        if (http.Request.Path.Value?.Contains('\0', StringComparison.Ordinal) == true)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestUri", "The request path holds a NUL character.");
        }

        long headerBytes = 0;
        foreach (var (name, values) in http.Request.Headers)
        {
            headerBytes += name.Length + 4 + values.Sum(v => (long)(v?.Length ?? 0));
        }

        if (headerBytes > MaxHeaderBytes)
        {
            throw new ArmRequestException(StatusCodes.Status431RequestHeaderFieldsTooLarge, "RequestHeaderFieldsTooLarge",
                $"The request headers have {headerBytes:N0} bytes; the limit is {MaxHeaderBytes:N0}.");
        }

        if (http.Request.ContentLength is { } length && length > MaxBodyBytes)
        {
            await DrainAsync(http, length);
            http.Response.Headers.Connection = "close";
            throw new ArmRequestException(StatusCodes.Status413PayloadTooLarge, "RequestEntityTooLarge",
                $"The request body has {length:N0} bytes; the limit is {MaxBodyBytes:N0}.");
        }

        await _next(http);
    }

    // A client waiting for 100-continue has sent nothing: it reads the 413 at once. Any other has sent (or is
    // sending) the body; closing with unread bytes makes the kernel reset the connection, losing the answer.
    private static async Task DrainAsync(HttpContext http, long length)
    {
        if (length > DrainBytes || http.Request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = length;
        }

        var buffer = new byte[64 * 1024];
        try
        {
            while (await http.Request.Body.ReadAsync(buffer, http.RequestAborted) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException)
        {
            // The client stopped sending: the 413 is still answered if the connection allows.
        }
    }
}
