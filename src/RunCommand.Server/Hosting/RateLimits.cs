using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using RunCommand.Server.Arm;
using RunCommand.Server.Auth;

namespace RunCommand.Server.Hosting;

/// <summary>
/// Per-caller rate limits with ASP.NET Core's rate limiting middleware: a token bucket per principal, one per agent
/// (so an agent's long polls and reports never spend a person's budget) and one for enrollment. Runs after
/// authentication; refused requests get 429 with Retry-After and an ARM error body.
/// </summary>
public static class RateLimits
{
    public static void Configure(RateLimiterOptions limiter, ServerOptions options)
    {
        limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
        {
            if (http.Items[typeof(Caller)] is not Caller caller)
            {
                return RateLimitPartition.GetNoLimiter("anonymous");
            }

            var agent = caller.Kind is Caller.Agent or Caller.Enrollment;
            var perSecond = agent ? options.AgentRequestsPerSecond : options.RequestsPerSecond;
            var burst = agent ? options.AgentRequestsPerSecond * 10 : options.RequestBurst;
            return RateLimitPartition.GetTokenBucketLimiter(caller.RateLimitKey, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(burst, perSecond),
                TokensPerPeriod = perSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        });
        limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        limiter.OnRejected = async (context, cancellationToken) =>
        {
            var http = context.HttpContext;
            var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
                : 1;
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            var caller = http.Items[typeof(Caller)] as Caller;
            Log.RateLimited(http.RequestServices.GetRequiredService<ILogger<ServerOptions>>(), caller?.Name ?? "?", http.Request.Path);
            await ArmResults.Error(StatusCodes.Status429TooManyRequests, "TooManyRequests",
                $"The request rate of '{caller?.Name}' is over its limit; retry after {seconds} s.").ExecuteAsync(http);
        };
    }
}
