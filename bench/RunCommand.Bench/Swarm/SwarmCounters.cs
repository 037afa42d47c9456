using System.Collections.Concurrent;

namespace RunCommand.Bench.Swarm;

/// <summary>What the swarm saw, shared by all its agents: completions, failures by kind, reconnections.</summary>
public sealed class SwarmCounters
{
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private int _completed;
    private int _disconnected;
    private long _pollsAnswered;

    public int CompletedCount => Volatile.Read(ref _completed);

    /// <summary>Goal-state polls the server answered, since the swarm started.</summary>
    public long PollsAnswered => Interlocked.Read(ref _pollsAnswered);

    /// <summary>Agents whose last poll failed and that have not polled successfully since.</summary>
    public int DisconnectedCount => Volatile.Read(ref _disconnected);

    /// <summary>Failures seen by kind (HTTP status, connection error, timeout), for the report.</summary>
    public IReadOnlyDictionary<string, int> Failures => _failures;

    /// <summary>Answers with a 5xx status, seen by any agent.</summary>
    public int ServerErrors => _failures.Where(f => f.Key.StartsWith("HTTP 5", StringComparison.Ordinal)).Sum(f => f.Value);

    public void Completed() => Interlocked.Increment(ref _completed);

    public void PollAnswered() => Interlocked.Increment(ref _pollsAnswered);

    public void Disconnected(Exception e) => Interlocked.Increment(ref _disconnected);

    public void Reconnected(SimulatedAgent agent) => Interlocked.Decrement(ref _disconnected);

    public void Failure(Exception e)
    {
        var kind = e switch
        {
            HttpRequestException { StatusCode: { } status } => $"HTTP {(int)status}",
            HttpRequestException { HttpRequestError: var error } => error.ToString(),
            TaskCanceledException or TimeoutException => "Timeout",
            _ => e.GetType().Name,
        };
        _failures.AddOrUpdate(kind, 1, (_, n) => n + 1);
    }

    public void ResetFailures() => _failures.Clear();
}
