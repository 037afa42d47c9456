using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Execution;

/// <summary>
/// Turns goal states into running executions, and after a restart finds the executions of the previous
/// agent again. Nothing runs twice: an execution is started only when <see cref="IExecutionStateStore.TryAccept"/>
/// recorded it for the first time.
/// </summary>
public sealed class ExecutionManager
{
    public const string EndedWithoutExitCode = "The script's process ended without an exit code (machine or agent restarted)";
    public const string NeverSpawned = "Agent stopped before the script started; not retried so it never runs twice";

    private readonly string _executionsRoot;
    private readonly IExecutionStateStore _store;
    private readonly IExecutionReporter _reporter;
    private readonly ExecutionSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationToken _shutdown;
    private readonly ScriptDownloader _downloader;
    private readonly ConcurrentDictionary<string, (ExecutionRunner Runner, Task Task)> _active = new(StringComparer.Ordinal);

    /// <param name="executionsRoot">Directory holding one directory per execution (scripts and output files).</param>
    /// <param name="shutdown">Agent shutdown: runners stop watching, scripts keep running.</param>
    public ExecutionManager(
        string executionsRoot,
        IExecutionStateStore store,
        IExecutionReporter reporter,
        ExecutionSettings settings,
        TimeProvider time,
        ILogger logger,
        CancellationToken shutdown)
    {
        _executionsRoot = executionsRoot;
        _store = store;
        _reporter = reporter;
        _settings = settings;
        _time = time;
        _logger = logger;
        _shutdown = shutdown;
        // One HTTP client for every scriptUri download of this agent's lifetime (connection pooling, DNS refresh).
        _downloader = new ScriptDownloader(settings, time, logger);
        Directory.CreateDirectory(executionsRoot, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Ids of executions with a runner in progress.</summary>
    public IReadOnlyCollection<string> ActiveExecutionIds => [.. _active.Keys];

    /// <summary>Completes when every runner started so far has finished (or stopped for shutdown).</summary>
    public Task WhenAllAsync() => Task.WhenAll(_active.Values.Select(v => v.Task));

    /// <summary>
    /// Picks up what a previous agent left: reports executions that ended while it was down, re-attaches to
    /// live process groups, and fails the ones whose fate cannot be known (never re-running them).
    /// </summary>
    public void Recover()
    {
        foreach (var id in _store.ListIds())
        {
            if (!ExecutionPathsGuard.IsSafeId(id) || _active.ContainsKey(id))
            {
                continue;
            }

            var paths = PathsOf(id);
            var record = _store.Get(id);
            if (record is null)
            {
                // Died between creating the directory and writing the first state.json: nothing ran.
                record = new LocalExecutionRecord { ExecutionId = id, RunCommandName = "", State = LocalState.Accepted, AcceptedAt = _time.GetUtcNow() };
                _store.Save(record);
            }

            if (record.Reported)
            {
                continue;
            }

            var runner = CreateRunner(record, 0, 0);
            if (record.IsTerminal)
            {
                Track(runner, runner.ResendFinalAsync);
            }
            else if (record.Pid is not { } pid)
            {
                Track(runner, () => runner.FinishAsync(LocalState.Failed, null, NeverSpawned));
            }
            else if (paths.TryReadExitCode() is { } code && record.StopIntent is null)
            {
                Track(runner, () => runner.FinishAsync(
                    code == 0 ? LocalState.Succeeded : LocalState.Failed, code, code == 0 ? null : $"Script exited with code {code}"));
            }
            else if (ProcStat.IsSameLiveProcess(pid, record.ProcessStartTicks ?? 0))
            {
                Track(runner, runner.ReattachAsync);
            }
            else if (record.StopIntent is { } intent)
            {
                Track(runner, () => runner.FinishAsync(
                    intent, null, intent == LocalState.TimedOut ? $"Timed out after {record.TimeoutInSeconds} s" : "Canceled"));
            }
            else if (paths.TryReadExitCode() is { } lateCode)
            {
                // Ended between the two checks above.
                Track(runner, () => runner.FinishAsync(
                    lateCode == 0 ? LocalState.Succeeded : LocalState.Failed, lateCode, lateCode == 0 ? null : $"Script exited with code {lateCode}"));
            }
            else
            {
                Track(runner, () => runner.FinishAsync(LocalState.Failed, null, EndedWithoutExitCode));
            }
        }
    }

    /// <summary>Applies one goal state at once: starts new executions, cancels, resends final reports.</summary>
    public void Reconcile(GoalState goalState)
    {
        foreach (var assignment in goalState.Executions)
        {
            var id = assignment.ExecutionId;
            if (!ExecutionPathsGuard.IsSafeId(id))
            {
                Log.UnsafeExecutionId(_logger, id);
                continue;
            }

            if (_active.TryGetValue(id, out var active))
            {
                if (assignment.Cancel)
                {
                    active.Runner.RequestCancel();
                }

                // A runner recovered after a restart waits for the blob URLs (never stored on disk) from here.
                active.Runner.OfferBlobUris(assignment.OutputBlobUri, assignment.ErrorBlobUri);

                continue;
            }

            var record = _store.Get(id);
            if (record is null && assignment.Started)
            {
                // The server saw it start but this agent has no record: its state was lost (power cut before the
                // disk caught up, or a wiped state dir). Running it again could run it twice; report it instead.
                StartNew(assignment, lostMessage: LostStateMessage);
            }
            else if (record is null)
            {
                StartNew(assignment);
            }
            else if (record.IsTerminal)
            {
                // The server still lists it: it may have lost our final report. Reports are idempotent.
                var runner = CreateRunner(record, assignment.StdoutLength, assignment.StderrLength);
                Track(runner, runner.ResendFinalAsync);
            }
        }
    }

    /// <summary>Message of an execution the server saw start but this agent has no record of.</summary>
    public const string LostStateMessage = "The agent has no record of this execution although it had started (its state was lost, e.g. by a power cut); it is not run again so it never runs twice.";

    private void StartNew(ExecutionAssignment assignment, string? lostMessage = null)
    {
        var now = _time.GetUtcNow();
        var endsNow = assignment.Cancel || lostMessage is not null;
        var record = new LocalExecutionRecord
        {
            ExecutionId = assignment.ExecutionId,
            RunCommandName = assignment.RunCommandName,
            State = lostMessage is not null ? LocalState.Failed : assignment.Cancel ? LocalState.Canceled : LocalState.Accepted,
            AcceptedAt = now,
            TimeoutInSeconds = Math.Max(0, assignment.TimeoutInSeconds),
            Message = lostMessage ?? (assignment.Cancel ? "Canceled before it started" : null),
            StartTime = endsNow ? now : null,
            EndTime = endsNow ? now : null,
            OutputBlob = assignment.OutputBlobUri is not null,
            ErrorBlob = assignment.ErrorBlobUri is not null,
        };

        // Checkpoint: from here on this execution id is known on disk and is never started again, whatever
        // happens to the agent. If it dies before this line, nothing ran and the server assigns it again.
        if (!_store.TryAccept(record))
        {
            return;
        }

        Log.ExecutionAccepted(_logger, assignment.ExecutionId, assignment.RunCommandName);
        var runner = CreateRunner(record, assignment.StdoutLength, assignment.StderrLength);
        Track(runner, endsNow ? runner.ResendFinalAsync : () => runner.RunNewAsync(assignment));
    }

    private ExecutionRunner CreateRunner(LocalExecutionRecord record, long stdoutAcked, long stderrAcked) =>
        new(record, PathsOf(record.ExecutionId), _store, _reporter, _settings, _time, _logger, stdoutAcked, stderrAcked, _downloader, _shutdown);

    private ExecutionPaths PathsOf(string executionId) => new(Path.Combine(_executionsRoot, executionId));

    private void Track(ExecutionRunner runner, Func<Task> work)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = RunAsync(runner, gate.Task, work);
        _active[runner.ExecutionId] = (runner, task);
        gate.SetResult();
    }

    private async Task RunAsync(ExecutionRunner runner, Task gate, Func<Task> work)
    {
        // Each execution runs on its own: the gate only makes sure it is registered before it can finish.
        await gate;
        try
        {
            await work();
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            // Shutdown: state on disk tells the next agent where to continue.
        }
        catch (Exception e)
        {
            Log.ExecutionCrashed(_logger, runner.ExecutionId, e);
        }
        finally
        {
            _active.TryRemove(runner.ExecutionId, out _);
        }
    }
}
