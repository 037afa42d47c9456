using Microsoft.AspNetCore.Http.Features;
using RunCommand.Server.Arm;
using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>
/// Turns every failure into an ARM error body: request errors keep their 4xx, a body over the size limit is 413,
/// a full disk is 507 InsufficientStorage, a database too busy with conflicting writes is 503 with Retry-After, anything unexpected is a 500 whose message carries no internals (the log has them).
/// </summary>
public sealed class ArmErrorHandling
{
    private readonly RequestDelegate _next;

    public ArmErrorHandling(RequestDelegate next)
    {
        _next = next;
    }

    public async Task InvokeAsync(HttpContext http, ILogger<ArmErrorHandling> logger)
    {
        SecurityHeaders.Apply(http.Response.Headers, http.Request.IsHttps);
        http.Response.Headers["x-ms-request-id"] = http.TraceIdentifier;
        try
        {
            await _next(http);
        }
        catch (ArmRequestException e) when (!http.Response.HasStarted)
        {
            await e.ToResult().ExecuteAsync(http);
        }
        catch (BadHttpRequestException e) when (!http.Response.HasStarted)
        {
            var status = e.StatusCode == StatusCodes.Status413PayloadTooLarge ? e.StatusCode : StatusCodes.Status400BadRequest;
            var code = status == StatusCodes.Status413PayloadTooLarge ? "RequestEntityTooLarge" : "InvalidRequestContent";
            await ArmResults.Error(status, code, e.Message).ExecuteAsync(http);
        }
        catch (StorageFullException e) when (!http.Response.HasStarted)
        {
            // Nothing of this request was stored; a client (or an agent's report) can send it again once space returns.
            Log.StorageFull(logger, http.Request.Method, http.Request.Path, e.InnerException?.Message ?? e.Message);
            await ArmResults.Error(StatusCodes.Status507InsufficientStorage, "InsufficientStorage",
                $"The server's storage is full, so the request was not stored; retry once space is freed (request id {http.TraceIdentifier}).").ExecuteAsync(http);
        }
        catch (StorageBusyException e) when (!http.Response.HasStarted)
        {
            // Concurrent writes kept conflicting past the retry budget; nothing was stored, so the same request may be sent again.
            Log.StorageBusy(logger, http.Request.Method, http.Request.Path, e.InnerException?.Message ?? e.Message);
            http.Response.Headers.RetryAfter = "1";
            await ArmResults.Error(StatusCodes.Status503ServiceUnavailable, "ServiceUnavailable",
                $"The server's database is busy with conflicting writes, so the request was not stored; retry it (request id {http.TraceIdentifier}).").ExecuteAsync(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            Log.Unhandled(logger, e, http.Request.Method, http.Request.Path);
            await ArmResults.Error(StatusCodes.Status500InternalServerError, "InternalServerError",
                $"The server failed to process the request (request id {http.TraceIdentifier}).").ExecuteAsync(http);
        }
    }
}

/// <summary>The security headers of every API answer, in one place (the pipeline's and the connection-level refusals').</summary>
public static class SecurityHeaders
{
    /// <summary>
    /// Headers fitting a JSON API: no sniffing, no framing, no caching of answers that may hold run output, no
    /// referrer, and HSTS over https.
    /// </summary>
    public static void Apply(IHeaderDictionary headers, bool https)
    {
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
        headers.CacheControl = "no-store";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        if (https)
        {
            headers.StrictTransportSecurity = "max-age=31536000";
        }
    }
}
