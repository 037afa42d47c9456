using System.Collections.Concurrent;
using Prometheus;
using RunCommand.Server.Agents;
using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>
/// The server's Prometheus metrics (served at <c>/metrics</c>; docs/install.md lists them for Grafana). HTTP request
/// counts and durations by status code (so 401/403/429 rates) come from prometheus-net's own middleware.
/// </summary>
public sealed class ServerMetrics
{
    private static readonly Gauge AgentsConnected = Metrics.CreateGauge("runcmd_agents_connected", "Machines whose agent holds a goal-state poll open now.");

    private static readonly Gauge Commands = Metrics.CreateGauge("runcmd_commands",
        "Run commands by the state of their current execution (counted at most every 10 s).", new GaugeConfiguration { LabelNames = ["state"] });

    /// <summary>How long a count of run commands by state serves scrapes: counting reads every run command's row.</summary>
    private static readonly TimeSpan CommandCountLifetime = TimeSpan.FromSeconds(10);

    private static readonly Gauge FleetRunsActive = Metrics.CreateGauge("runcmd_fleet_runs_active", "Fleet runs not yet finished.");

    private static readonly Counter ExecutionsDispatched = Metrics.CreateCounter("runcmd_executions_dispatched_total",
        "Executions handed to an agent for the first time (by this server process).");

    private static readonly Counter ExecutionsFinished = Metrics.CreateCounter("runcmd_executions_finished_total",
        "Executions an agent reported in a terminal state, by state.", new CounterConfiguration { LabelNames = ["state"] });

    private static readonly Counter ConnectionsShed = Metrics.CreateCounter("runcmd_connections_shed_total",
        "Connections closed before their TLS handshake because they waited too long for a turn (a reconnecting fleet larger than the server can take at once).");

    private static readonly Histogram DispatchLatency = Metrics.CreateHistogram("runcmd_dispatch_latency_seconds",
        "From the server accepting an execution to its first hand-out to the agent.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });

    /// <summary>Executions handed out and not yet reported finished: a re-sent goal state is not a new dispatch.</summary>
    private readonly ConcurrentDictionary<string, byte> _dispatched = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private DateTimeOffset _commandsCounted = DateTimeOffset.MinValue;

    public ServerMetrics(AgentPresence presence, IFleetRunStore fleetRuns, IRunCommandStore runCommands, ConnectionAdmission admission, TimeProvider time)
    {
        _time = time;
        // Gauges read their source at scrape time: nothing to keep in step.
        Metrics.DefaultRegistry.AddBeforeCollectCallback(async cancellationToken =>
        {
            AgentsConnected.Set(presence.OpenPolls);
            ConnectionsShed.IncTo(admission.Shed);
            FleetRunsActive.Set((await fleetRuns.ListActiveFleetRunsAsync(cancellationToken)).Count);
            var now = _time.GetUtcNow();
            if (now - _commandsCounted >= CommandCountLifetime)
            {
                foreach (var (state, count) in await runCommands.CountRunCommandsByStateAsync(cancellationToken))
                {
                    Commands.WithLabels(state.ToString()).Set(count);
                }

                _commandsCounted = now;
            }
        });
    }

    /// <summary>Called for each execution in a goal state sent to an agent.</summary>
    public void Handed(ExecutionRecord execution)
    {
        if (execution.State == ExecutionState.Pending && _dispatched.TryAdd(execution.ExecutionId, 0))
        {
            ExecutionsDispatched.Inc();
            DispatchLatency.Observe(Math.Max(0, (_time.GetUtcNow() - execution.Created).TotalSeconds));
        }
    }

    /// <summary>Called when an agent reports an execution's terminal state.</summary>
    public void Finished(string executionId, string state)
    {
        ExecutionsFinished.WithLabels(state).Inc();
        _dispatched.TryRemove(executionId, out _);
    }
}
