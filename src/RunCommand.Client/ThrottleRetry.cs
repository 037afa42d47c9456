using System.Net;
using Polly;
using Polly.Retry;

namespace RunCommand.Client;

/// <summary>
/// What the client does when the server says "not now" (429 Too Many Requests, or 503 Service Unavailable with a
/// Retry-After): the request was not processed, so it is sent again after the wait the server asked for, as az and the
/// Azure SDK do, at most <see cref="MaxRetries"/> times. A wait longer than <see cref="LongestWait"/> is not sat out
/// silently: the throttled answer reaches the caller (its error names the wait).
/// </summary>
internal static class ThrottleRetry
{
    public const int MaxRetries = 4;

    /// <summary>The longest Retry-After the client waits for without telling anyone.</summary>
    public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(20);

    /// <summary>Without a Retry-After, a 429 is retried after 1 s, then 2 s, 4 s... (jittered).</summary>
    private static readonly TimeSpan FirstWait = TimeSpan.FromSeconds(1);

    public static ResiliencePipeline<HttpResponseMessage> Create(TimeProvider time) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = FirstWait,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { } response && IsRetriable(response, time)),
                // The server's Retry-After when it gives one; otherwise the exponential back-off above.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result is { } response ? RetryAfter(response, time) : null),
            })
            .Build();

    /// <summary>A throttled answer whose wait is short enough to sit out.</summary>
    public static bool IsRetriable(HttpResponseMessage response, TimeProvider time) =>
        response.StatusCode switch
        {
            HttpStatusCode.TooManyRequests => (RetryAfter(response, time) ?? TimeSpan.Zero) <= LongestWait,
            // A 503 without Retry-After may be a proxy's or a dying server's: not retried blindly.
            HttpStatusCode.ServiceUnavailable => RetryAfter(response, time) is { } wait && wait <= LongestWait,
            _ => false,
        };

    /// <summary>The answer's Retry-After (seconds or an HTTP date), or null when it has none.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }
}
