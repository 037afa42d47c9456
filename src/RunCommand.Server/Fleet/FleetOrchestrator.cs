using Microsoft.Extensions.Options;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Fleet;

/// <summary>
/// Drives every unfinished fleet run: starts targets while fewer than <c>maxConcurrency</c> are unfinished, stops
/// starting once more than <c>maxErrors</c> have failed, carries out cancels, and closes the run when nothing runs.
/// All its state is in the store, so after a server restart it simply resumes. It sleeps until a fleet run is created
/// or canceled or one of the executions it watches changes (IChangeFeed), with a slow safety pass for changes made
/// by another node. If the loop dies, the host stops: a server that silently stops running fleets is worse.
/// With several nodes, a run is advanced only by the node holding its lease (<see cref="WorkLeases"/>), renewed at
/// every pass; a run whose node died is free once its lease runs out, and the next pass of another node takes it up.
/// </summary>
public sealed partial class FleetOrchestrator(
    IFleetRunStore store, IRunCommandStore runCommands, IChangeFeed changes, TimeProvider time, IOptions<ServerOptions> options, IHostApplicationLifetime lifetime, WorkLeases leases,
    ILogger<FleetOrchestrator> logger)
    : BackgroundService
{
    /// <summary>Longest sleep without any signal (a signal could have been missed; leases are renewed and claimed here).</summary>
    public static readonly TimeSpan SafetyPassInterval = WorkLeases.RenewInterval;

    /// <summary>Pause before a pass is tried again after the store's disk was full.</summary>
    public static readonly TimeSpan StorageFullRetryInterval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a pass waits after the first change that woke it, so that the targets of a fleet that end together are
    /// handled in one pass rather than one pass (reading every running target) each.
    /// </summary>
    public static readonly TimeSpan PassCoalescing = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Most targets started in one store transaction. Started one by one, each target cost two commits (each an fsync
    /// with --durable-commits); a batch this size keeps the write lock short enough for agents' reports to interleave.
    /// </summary>
    public const int StartBatchSize = 100;

    /// <summary>
    /// Executions seen terminal, with whether they succeeded. A terminal execution never changes, so a pass reads only
    /// the others; forgotten when their run completes (and rebuilt from the store after a restart).
    /// </summary>
    private readonly Dictionary<string, bool> _terminal = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // Subscribe before reading, so a run created or canceled during this pass wakes the next one.
                var wake = new List<Task> { changes.NextChangeAsync(Topics.Fleets) };
                try
                {
                    foreach (var run in await store.ListActiveFleetRunsAsync(stoppingToken))
                    {
                        // Another node drives this run while it holds the lease: leave it alone.
                        if (await leases.HoldAsync(LeaseKind.FleetRun, run.Run.Key, stoppingToken))
                        {
                            wake.AddRange(await AdvanceAsync(run, stoppingToken));
                        }
                    }
                }
                catch (Exception e) when (e is StorageFullException or StorageBusyException)
                {
                    // A full disk or writes that kept conflicting are not bugs: nothing of the failed write was kept, so the next pass redoes it.
                    Log.BackgroundStorageUnavailable(logger, "the fleet orchestrator", e is StorageFullException ? "disk full" : "write conflicts persisted", StorageFullRetryInterval.TotalSeconds);
                    await Task.Delay(StorageFullRetryInterval, time, stoppingToken);
                    continue;
                }

                using var sleep = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var changed = Task.WhenAny(wake);
                var first = await Task.WhenAny(changed, Task.Delay(SafetyPassInterval, time, sleep.Token));
                await sleep.CancelAsync();
                if (first == changed)
                {
                    await Task.Delay(PassCoalescing, time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown: every decision so far is in the store; the next start resumes from there.
        }
        catch (Exception e)
        {
            LogDied(logger, e);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            throw;
        }
    }

    /// <summary>One pass over one run; returns the changes that should wake the next pass.</summary>
    private async Task<IReadOnlyList<Task>> AdvanceAsync(FleetRunRecord run, CancellationToken cancellationToken)
    {
        var definition = run.Definition;
        var wake = new List<Task>();
        var running = new List<string>();
        var toCancel = new List<string>();
        var waiting = new List<FleetTargetRecord>();
        var failures = 0;
        var skipped = run.Targets.Count(t => t.NotStarted);
        // The executions not known terminal, subscribed before they are read (a change in between still wakes the next
        // pass) and read in one snapshot rather than one transaction each.
        var unsettled = run.Targets.Select(t => t.ExecutionId).OfType<string>().Where(id => !_terminal.ContainsKey(id)).ToList();
        var subscriptions = unsettled.ToDictionary(id => id, id => changes.NextChangeAsync(Topics.Execution(id)), StringComparer.Ordinal);
        var executions = unsettled.Count == 0 ? null : await runCommands.GetExecutionsAsync(unsettled, 0, cancellationToken);
        foreach (var target in run.Targets)
        {
            if (target.ExecutionId is { } executionId)
            {
                if (_terminal.TryGetValue(executionId, out var succeeded))
                {
                    failures += succeeded ? 0 : 1;
                    continue;
                }

                var execution = executions!.GetValueOrDefault(executionId)?.Execution;
                if (execution is null || execution.IsTerminal)
                {
                    _terminal[executionId] = execution?.State == ExecutionState.Succeeded;
                    failures += _terminal[executionId] ? 0 : 1;
                }
                else
                {
                    running.Add(executionId);
                    wake.Add(subscriptions[executionId]);
                    if (!execution.CancelRequested)
                    {
                        toCancel.Add(executionId);
                    }
                }
            }
            else if (target.StartFailed)
            {
                failures++;
            }
            else if (!target.NotStarted)
            {
                waiting.Add(target);
            }
        }

        if (run.CancelRequested)
        {
            // Asked once per execution: its agent then stops it and reports, which wakes the next pass.
            foreach (var executionId in toCancel)
            {
                await runCommands.CancelExecutionAsync(executionId, "Canceled: the fleet run was canceled", time.GetUtcNow(), cancellationToken);
            }

            if (waiting.Count > 0)
            {
                await store.SkipUnstartedFleetTargetsAsync(run.Run, "Not started: the fleet run was canceled.", cancellationToken);
            }

            if (running.Count == 0)
            {
                await CompleteAsync(run, FleetRunState.Canceled, cancellationToken);
            }

            return wake;
        }

        while (waiting.Count > 0)
        {
            if (failures > definition.MaxErrors)
            {
                // Checkpoint: once skipped, a target never starts, even if the server restarts right after.
                await store.SkipUnstartedFleetTargetsAsync(run.Run,
                    $"Not started: {failures} targets failed, more than maxErrors ({definition.MaxErrorsText}).", cancellationToken);
                skipped += waiting.Count;
                waiting.Clear();
                break;
            }

            var slots = Math.Min(definition.MaxConcurrency - running.Count, StartBatchSize);
            if (slots <= 0)
            {
                break;
            }

            var batch = waiting.Take(slots).Select(t => new FleetTargetStart(t.Ordinal, Guid.NewGuid().ToString(), Guid.NewGuid().ToString())).ToList();

            // Subscribed before the start, so an execution that ends at once still wakes the next pass.
            var newSubscriptions = batch.ToDictionary(b => b.NewExecutionId, b => changes.NextChangeAsync(Topics.Execution(b.NewExecutionId)), StringComparer.Ordinal);
            var outcomes = await store.StartFleetTargetsAsync(run, batch, options.Value.MaxRunCommandsPerVm, time.GetUtcNow(), cancellationToken);
            foreach (var outcome in outcomes)
            {
                if (outcome.ExecutionId is not { } startedId)
                {
                    failures++;
                    continue;
                }

                running.Add(startedId);
                wake.Add(newSubscriptions.GetValueOrDefault(startedId) ?? changes.NextChangeAsync(Topics.Execution(startedId)));
            }

            // The store stops after a target that could not start (so that maxErrors is checked again before the next);
            // every target before it, and it, is decided.
            var decided = outcomes is [.., { ExecutionId: null } last] ? waiting.FindIndex(t => t.Ordinal == last.Ordinal) + 1 : batch.Count;
            waiting.RemoveRange(0, decided);
            LogTargetsStarted(logger, run.Run.ResourceId, outcomes.Count(o => o.ExecutionId is not null), decided, waiting.Count);
        }

        if (running.Count == 0 && waiting.Count == 0)
        {
            await CompleteAsync(run, failures > 0 || skipped > 0 ? FleetRunState.Failed : FleetRunState.Succeeded, cancellationToken);
        }

        return wake;
    }

    private async Task CompleteAsync(FleetRunRecord run, FleetRunState state, CancellationToken cancellationToken)
    {
        await store.CompleteFleetRunAsync(run.Run, state, time.GetUtcNow(), cancellationToken);
        await leases.ReleaseAsync(LeaseKind.FleetRun, run.Run.Key, cancellationToken);
        foreach (var target in run.Targets)
        {
            if (target.ExecutionId is { } executionId)
            {
                _terminal.Remove(executionId);
            }
        }

        LogCompleted(logger, run.Run.ResourceId, state.ToString());
    }

    [LoggerMessage(300, LogLevel.Critical, "The fleet orchestrator failed; stopping the server so that it is noticed and restarted (fleet runs resume from the store)")]
    private static partial void LogDied(ILogger logger, Exception exception);

    [LoggerMessage(301, LogLevel.Information, "Fleet run {RunId}: started {Started} of {Decided} targets in one transaction; {Waiting} still waiting")]
    private static partial void LogTargetsStarted(ILogger logger, string runId, int started, int decided, int waiting);

    [LoggerMessage(302, LogLevel.Information, "Fleet run {RunId} ended {State}")]
    private static partial void LogCompleted(ILogger logger, string runId, string state);
}
