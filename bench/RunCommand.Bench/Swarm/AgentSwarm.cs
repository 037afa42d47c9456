using System.Globalization;
using System.Security.Cryptography.X509Certificates;

namespace RunCommand.Bench.Swarm;

/// <summary>
/// N simulated machines in this process (docs/performance.md, "The swarm simulator"). Start enrolls them all (a few
/// dozen at a time) and starts their poll loops; dispose stops them.
/// </summary>
public sealed class AgentSwarm : IAsyncDisposable
{
    private readonly List<SimulatedAgent> _agents;
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly X509Certificate2? _ca;

    private AgentSwarm(SwarmOptions options, int count, X509Certificate2? ca)
    {
        Options = options;
        _ca = ca;
        _agents = Enumerable.Range(0, count)
            .Select(i => new SimulatedAgent(options, ca, options.NamePrefix + i.ToString("D5", CultureInfo.InvariantCulture), Counters))
            .ToList();
    }

    public SwarmOptions Options { get; }

    public SwarmCounters Counters { get; } = new();

    public IReadOnlyList<SimulatedAgent> Agents => _agents;

    public int Count => _agents.Count;

    /// <summary>Agents with a poll held open right now.</summary>
    public int PollingCount => _agents.Count(a => a.Polling);

    public int CompletedCount => Counters.CompletedCount;

    /// <summary>Enrolls <paramref name="count"/> machines with the enrollment token and starts their long polls (unless told not to).</summary>
    public static async Task<AgentSwarm> StartAsync(SwarmOptions options, int count, string enrollmentToken, CancellationToken cancellationToken, bool poll = true)
    {
        var ca = options.CaCertificateFile is null ? null : X509CertificateLoader.LoadCertificateFromFile(options.CaCertificateFile);
        var swarm = new AgentSwarm(options, count, ca);
        var enrolled = 0;
        var started = DateTime.UtcNow;
        try
        {
            await Parallel.ForEachAsync(swarm._agents, new ParallelOptions { MaxDegreeOfParallelism = options.EnrollConcurrency, CancellationToken = cancellationToken },
                async (agent, ct) =>
                {
                    await agent.EnrollAsync(enrollmentToken, ct);
                    Interlocked.Increment(ref enrolled);
                    if (!poll)
                    {
                        return;
                    }

                    lock (swarm._loops)
                    {
                        swarm._loops.Add(Task.Run(() => agent.RunAsync(swarm._stop.Token), CancellationToken.None));
                    }
                });
            return swarm;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await swarm.DisposeAsync();
            throw new InvalidOperationException(
                $"Enrolling {count} simulated agents failed after {enrolled} in {(DateTime.UtcNow - started).TotalSeconds:F0} s: {e.GetType().Name}: {e.Message}", e);
        }
    }

    /// <summary>Waits until every agent holds a poll (and no poll failed since), or the timeout.</summary>
    public async Task<bool> WaitAllPollingAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (PollingCount == Count && Counters.DisconnectedCount == 0)
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Task[] loops;
        lock (_loops)
        {
            loops = [.. _loops];
        }

        await Task.WhenAll(loops);
        foreach (var agent in _agents)
        {
            agent.Dispose();
        }

        _ca?.Dispose();
        _stop.Dispose();
    }
}
