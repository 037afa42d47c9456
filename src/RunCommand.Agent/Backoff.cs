using RunCommand.Agent.Protocol;

namespace RunCommand.Agent;

/// <summary>
/// Capped exponential back-off with full jitter (docs/agent-protocol.md, "When the server is away or busy"): the n-th
/// wait is uniform in [0, min(max, initial x 2^n)), so agents that failed together spread over the whole window instead
/// of returning in step. A wait the server asked for (<c>Retry-After</c>) is honoured as the least wait, with up to as
/// much again of jitter on top, so a fleet told the same number does not come back in the same second.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    /// <summary>Ceiling of the first wait between attempts to reach the server (enrollment and the goal-state poll).</summary>
    public static readonly TimeSpan ReconnectInitial = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Largest wait between attempts to reach the server. With full jitter a fleet that lost its server comes back
    /// within this long of the server's return (half of it on average), at about 2 x fleet / 15 s attempts a second
    /// while the server is away (a refused TCP connect each: nothing for a server that is down).
    /// </summary>
    public static readonly TimeSpan ReconnectMax = TimeSpan.FromSeconds(15);

    private int _attempt;

    /// <summary>The back-off between attempts to reach the server (the agent's and the swarm simulator's).</summary>
    public static Backoff Reconnect() => new(ReconnectInitial, ReconnectMax);

    /// <summary>The next wait; <see cref="Reset"/> after a success starts again from <c>initial</c>.</summary>
    public TimeSpan Next() => Next(retryAfter: null);

    /// <summary>The next wait, at least <paramref name="retryAfter"/> when the server named one.</summary>
    public TimeSpan Next(TimeSpan? retryAfter)
    {
        var ceiling = Math.Min(initial.TotalMilliseconds * Math.Pow(2, Math.Min(_attempt, 20)), max.TotalMilliseconds);
        _attempt++;
        if (retryAfter is { } asked && asked > TimeSpan.Zero)
        {
            return asked + TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * asked.TotalMilliseconds);
        }

        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    /// <summary>The next wait after <paramref name="failure"/>: a busy server's <c>Retry-After</c> honoured.</summary>
    public TimeSpan NextAfter(Exception failure) => Next((failure as ServerBusyException)?.RetryAfter);

    public void Reset() => _attempt = 0;
}

/// <summary>Remembers the kind of the last failure, so a flapping network logs once per kind, not once per try.</summary>
internal sealed class FailureKindFilter
{
    private string? _lastKind;

    /// <summary>The kind of an exception: its type plus, for HTTP errors, the status or socket error.</summary>
    public static string KindOf(Exception e) => e switch
    {
        HttpRequestException { StatusCode: { } status } => $"HTTP {(int)status}",
        HttpRequestException { HttpRequestError: var error } => $"{error}",
        TaskCanceledException or TimeoutException => "Timeout",
        _ => e.GetType().Name,
    };

    /// <summary>True when this failure's kind differs from the previous one (log it).</summary>
    public bool ShouldLog(string kind)
    {
        var changed = kind != _lastKind;
        _lastKind = kind;
        return changed;
    }

    /// <summary>Forgets the last failure; returns true when there was one (connection is back).</summary>
    public bool Reset()
    {
        var had = _lastKind is not null;
        _lastKind = null;
        return had;
    }
}
