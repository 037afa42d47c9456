using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace RunCommand.Agent.Execution;

/// <summary>A downloaded script (BOM stripped, LF line ends) or why there is none.</summary>
/// <param name="Error">A message safe to report and log (names the host and status, never the query); null on success.</param>
internal sealed record ScriptDownload(byte[]? Script, string? Error);

/// <summary>
/// Downloads <c>source.scriptUri</c> scripts: a public URL or a blob URL with a SAS. Transient failures
/// (connection errors, 408, 429, 5xx) are retried with capped exponential backoff, a name that does not exist only a
/// few times, all within one overall timeout, so a download never hangs an execution. The URL's query is a credential: no message, log line or
/// exception text built here contains it (only scheme-less host:port and the HTTP status).
/// </summary>
internal sealed class ScriptDownloader : IDisposable
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];
    private readonly HttpClient _http;
    private readonly ExecutionSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ScriptDownloader(ExecutionSettings settings, TimeProvider time, ILogger logger)
    {
        _settings = settings;
        _time = time;
        _logger = logger;
        // The system CA store decides https trust (no --ca-cert here: that one is for the RunCommand server only).
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 5,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = settings.ScriptDownloadTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            UseCookies = false,
        })
        {
            // The overall deadline is a token per download; HttpClient's own timeout would throw a message with the URL.
            Timeout = Timeout.InfiniteTimeSpan,
            MaxResponseContentBufferSize = int.MaxValue,
        };
    }

    /// <summary>
    /// Downloads the script, retrying what may heal. Each failed attempt that is followed by another is told to
    /// <paramref name="attemptFailed"/> as it happens (e.g. "Script download: attempt 1 of 8 failed: HTTP 503 from host
    /// h; retrying in 1 s"), so a waiting user sees why nothing runs yet; the returned error names the last cause.
    /// With <paramref name="key"/> (the storage credential of scriptUriManagedIdentity) each GET is signed with Shared Key.
    /// </summary>
    public async Task<ScriptDownload> DownloadAsync(string scriptUri, string executionId, Blobs.StorageKey? key, Func<string, Task> attemptFailed, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(scriptUri, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return new ScriptDownload(null, "Script download failed: scriptUri is not an absolute http or https URL");
        }

        var host = uri.Authority;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_settings.ScriptDownloadTimeout);
        var backoff = new Backoff(_settings.ScriptDownloadRetryInitialDelay, _settings.ScriptDownloadRetryMaxDelay);
        var attempt = 0;
        string? lastFailure = null;
        while (true)
        {
            attempt++;
            Attempt outcome;
            try
            {
                outcome = await TryOnceAsync(uri, host, key, deadline.Token);
                if (outcome.Script is { } script)
                {
                    Log.ScriptDownloaded(_logger, executionId, host, script.Length, attempt);
                    return new ScriptDownload(script, null);
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // The deadline cut an attempt short: the failure that made us retry says more than the cut.
                return new ScriptDownload(null, lastFailure is not null
                    ? GaveUp(lastFailure, attempt)
                    : $"Script download failed: no complete answer from host {host} within {_settings.ScriptDownloadTimeout.TotalSeconds:0.###} s ({attempt} attempt(s))");
            }

            var limit = AttemptsFor(outcome.Retry);
            if (attempt >= limit)
            {
                return new ScriptDownload(null, limit == 1 ? outcome.Error : $"{outcome.Error} (gave up after {attempt} attempts)");
            }

            lastFailure = outcome.Error!;
            var delay = backoff.Next();
            Log.ScriptDownloadRetry(_logger, executionId, lastFailure, (long)delay.TotalMilliseconds);
            await attemptFailed($"Script download: attempt {attempt} of {limit} failed: {lastFailure["Script download failed: ".Length..]}; retrying in {delay.TotalSeconds:0.#} s");
            try
            {
                await Task.Delay(delay, _time, deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return new ScriptDownload(null, GaveUp(lastFailure, attempt));
            }
        }
    }

    /// <summary>How many attempts a failure of this kind gets in all (within the overall timeout).</summary>
    private int AttemptsFor(RetryKind kind) => kind switch
    {
        RetryKind.Transient => _settings.ScriptDownloadAttempts,
        RetryKind.Unlikely => _settings.ScriptDownloadAttemptsNameNotFound,
        _ => 1,
    };

    private string GaveUp(string failure, int attempts) =>
        $"{failure} (gave up after {attempts} attempt(s) within {_settings.ScriptDownloadTimeout.TotalSeconds:0.###} s)";

    /// <summary>Whether a failed attempt is worth repeating.</summary>
    private enum RetryKind
    {
        /// <summary>A refusal (HTTP 404, 403, too big): the same request gets the same answer.</summary>
        Never,

        /// <summary>Connection errors, 408, 429, 5xx: usually gone within seconds.</summary>
        Transient,

        /// <summary>The name does not exist (NXDOMAIN): heals only if the record is being created right now.</summary>
        Unlikely,
    }

    /// <summary>One attempt's result: the script, or an error message (safe to show) and whether to try again.</summary>
    private readonly record struct Attempt(byte[]? Script, string? Error, RetryKind Retry);

    /// <summary>One GET. Returns the script, or an error message and whether trying again may help.</summary>
    private async Task<Attempt> TryOnceAsync(Uri uri, string host, Blobs.StorageKey? key, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            if (key is not null)
            {
                // A blob read with the storage credential of scriptUriManagedIdentity (Get Blob, Shared Key).
                request.Headers.Add("x-ms-version", Blobs.AppendBlobClient.ApiVersion);
                request.Headers.Add("x-ms-date", _time.GetUtcNow().ToString("R", System.Globalization.CultureInfo.InvariantCulture));
                Blobs.SharedKey.Sign(request, key);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                var transient = status is 408 or 429 || status >= 500;
                return new Attempt(null, $"Script download failed: HTTP {status} from host {host}", transient ? RetryKind.Transient : RetryKind.Never);
            }

            var limit = _settings.MaxScriptBytes;
            if (response.Content.Headers.ContentLength is { } length && length > limit)
            {
                return new Attempt(null, $"Script download failed: the script from host {host} is {length} bytes, more than the limit of {limit} bytes", RetryKind.Never);
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    return new Attempt(null, $"Script download failed: the script from host {host} is more than the limit of {limit} bytes", RetryKind.Never);
                }

                buffer.Write(chunk, 0, read);
            }

            return new Attempt(Normalize(buffer.ToArray()), null, RetryKind.Never);
        }
        catch (HttpRequestException e)
        {
            // e.Message is not used: some texts carry the request URL. The error kind and status are enough.
            if (e.HttpRequestError == HttpRequestError.NameResolutionError && e.InnerException is SocketException { SocketErrorCode: SocketError.HostNotFound })
            {
                return new Attempt(null, $"Script download failed: cannot resolve host {host}: the name does not exist", RetryKind.Unlikely);
            }

            return new Attempt(null, $"Script download failed: {Describe(e.HttpRequestError)} host {host}", RetryKind.Transient);
        }
        catch (IOException)
        {
            return new Attempt(null, $"Script download failed: the connection to host {host} broke off", RetryKind.Transient);
        }
    }

    private static string Describe(HttpRequestError error) => error switch
    {
        HttpRequestError.NameResolutionError => "cannot resolve",
        HttpRequestError.ConnectionError => "cannot connect to",
        HttpRequestError.SecureConnectionError => "no trusted TLS connection with",
        HttpRequestError.ResponseEnded => "the connection broke off with",
        HttpRequestError.InvalidResponse => "invalid HTTP answer from",
        HttpRequestError.ProxyTunnelError => "the proxy refused the tunnel to",
        _ => $"{error} with",
    };

    /// <summary>Strips a UTF-8 byte order mark and turns CRLF line ends into LF (Windows-edited scripts run as-is).</summary>
    internal static byte[] Normalize(ReadOnlySpan<byte> script)
    {
        if (script.StartsWith(Utf8Bom))
        {
            script = script[Utf8Bom.Length..];
        }

        var result = new byte[script.Length];
        var n = 0;
        for (var i = 0; i < script.Length; i++)
        {
            if (script[i] == (byte)'\r' && i + 1 < script.Length && script[i + 1] == (byte)'\n')
            {
                continue;
            }

            result[n++] = script[i];
        }

        return result[..n];
    }

    public void Dispose() => _http.Dispose();
}
