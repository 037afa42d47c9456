using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using RunCommand.Server.Hosting;

namespace RunCommand.Server.Auth;

/// <summary>
/// Failed authentications per client address: after <see cref="ServerOptions.FailedAuthenticationsPerWindow"/> of them
/// within <see cref="ServerOptions.FailedAuthenticationWindow"/>, every request from that address is refused with 429
/// before its credential is even looked at, until the window ends. Slows token guessing and spares the database.
/// </summary>
public sealed class FailedAuthenticationThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures;

    public FailedAuthenticationThrottle(IOptions<ServerOptions> options)
    {
        var limit = options.Value.FailedAuthenticationsPerWindow;
        Window = options.Value.FailedAuthenticationWindow;
        _failures = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetFixedWindowLimiter(address, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = limit,
            Window = Window,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public TimeSpan Window { get; }

    /// <summary>True when the address has used up its failures for the current window.</summary>
    public bool IsBlocked(string address) => _failures.GetStatistics(address)?.CurrentAvailablePermits == 0;

    /// <summary>Counts one failed authentication of the address.</summary>
    public void RecordFailure(string address)
    {
        using var _ = _failures.AttemptAcquire(address);
    }

    public void Dispose() => _failures.Dispose();
}
