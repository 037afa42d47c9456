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
    private readonly ProcessTracker _tracker;
    private readonly SpareWrapperSlot? _spares;
    private DateTimeOffset _nextPrune = DateTimeOffset.MinValue;
    private readonly ConcurrentDictionary<string, (ExecutionRunner Runner, Task Task)> _active = new(StringComparer.Ordinal);

    // Executions the state dir refused and reported Failed: never accepted later in this agent's life, even when space
    // returns before the server took the report in (it would otherwise run after being reported Failed).
    private readonly ConcurrentDictionary<string, byte> _refused = new(StringComparer.Ordinal);

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
        _tracker = ProcessTracker.Detect(settings.ProcessTracking);
        Log.ProcessTracking(logger, _tracker.Mode, _tracker.Root ?? "(none)");
        // A wrapper waits, already in its cgroup, for the next script (docs/agent.md, "Spare wrapper"); it ends with the agent.
        if (settings.SpareWrapper)
        {
            _spares = new SpareWrapperSlot(_tracker, logger, time);
            _spares.Refill();
            shutdown.Register(_spares.Dispose);
        }
        Directory.CreateDirectory(executionsRoot, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>How this manager tracks the processes of its scripts (decided once, at construction).</summary>
    public ProcessTrackingMode ProcessTracking => _tracker.Mode;

    /// <summary>The pid of the wrapper waiting for the next script (<see cref="ExecutionSettings.SpareWrapper"/>), or null.</summary>
    internal int? SpareWrapperPid => _spares?.ReadyPid;

    /// <summary>Ids of executions with a runner in progress.</summary>
    public IReadOnlyCollection<string> ActiveExecutionIds => [.. _active.Keys];

    /// <summary>Completes when every runner started so far has finished (or stopped for shutdown).</summary>
    public Task WhenAllAsync() => Task.WhenAll(_active.Values.Select(v => v.Task));

    /// <summary>
    /// Completes once every execution the last <see cref="Reconcile"/> started or resent has sent its first report (a
    /// short script's final one, or Running after <see cref="ExecutionSettings.FirstReportDelay"/>) and had its answer,
    /// or has ended. After an idle spell the agent polls again only then (<c>AgentService</c>), so those reports take
    /// the connection the answered poll left free rather than a second one: over HTTP/1.1 a held poll occupies its
    /// connection, and a second one, idle since the last command, costs a new TLS handshake on both sides for every
    /// machine of a fleet run (docs/agent-protocol.md, "Connections").
    /// </summary>
    public Task WhenFirstReportsSentAsync() => Task.WhenAll(_startedByLastReconcile);

    private readonly List<Task> _startedByLastReconcile = [];

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

    /// <summary>
    /// Retention: deletes the directories of executions the server has all of (reported) that ended more than
    /// <see cref="ExecutionSettings.ExecutionRetention"/> ago, then the oldest of them while they take more than
    /// <see cref="ExecutionSettings.ExecutionBudgetBytes"/>. Never one that is active or not reported yet. Returns what went.
    /// </summary>
    public (int Executions, long Bytes) Prune()
    {
        var now = _time.GetUtcNow();
        _nextPrune = now + _settings.PruneInterval;
        var finished = new List<(string Id, DateTimeOffset Ended, long Bytes, string? Cgroup)>();
        foreach (var id in _store.ListIds())
        {
            if (!ExecutionPathsGuard.IsSafeId(id) || _active.ContainsKey(id) || _store.Get(id) is not { Reported: true, IsTerminal: true } record)
            {
                continue;
            }

            finished.Add((id, record.EndTime ?? record.AcceptedAt, SizeOf(PathsOf(id).Directory), record.Cgroup));
        }

        var kept = finished.Sum(f => f.Bytes);
        var deleted = 0;
        long freed = 0;
        foreach (var (id, ended, bytes, cgroup) in finished.OrderBy(f => f.Ended))
        {
            if (now - ended < _settings.ExecutionRetention && kept <= _settings.ExecutionBudgetBytes)
            {
                break;
            }

            try
            {
                Directory.Delete(PathsOf(id).Directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            ProcessTracker.TryRemove(cgroup);
            kept -= bytes;
            freed += bytes;
            deleted++;
        }

        if (deleted > 0)
        {
            Log.ExecutionsPruned(_logger, deleted, freed);
        }

        return (deleted, freed);
    }

    /// <summary>
    /// The server deleted the execution's run command: deletes its directory (script, output, state) and cgroup. Returns
    /// false, keeping everything, while it still runs or its final report is being sent (the goal state names it again
    /// and it goes then); true once nothing of it is left, also when there was nothing to begin with.
    /// </summary>
    public bool Forget(string executionId)
    {
        if (!ExecutionPathsGuard.IsSafeId(executionId))
        {
            Log.UnsafeExecutionId(_logger, executionId);
            return false;
        }

        if (_active.ContainsKey(executionId))
        {
            return false;
        }

        var record = _store.Get(executionId);
        if (record is { IsTerminal: false })
        {
            return false;
        }

        var directory = PathsOf(executionId).Directory;
        try
        {
            if (Directory.Exists(directory))
            {
                var bytes = SizeOf(directory);
                Directory.Delete(directory, recursive: true);
                Log.ExecutionForgotten(_logger, executionId, bytes);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CannotForget(_logger, executionId, e.Message);
            return false;
        }

        ProcessTracker.TryRemove(record?.Cgroup);
        _refused.TryRemove(executionId, out _);
        return true;
    }

    private static long SizeOf(string directory)
    {
        try
        {
            return new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Applies one goal state at once: starts new executions, cancels, resends final reports.</summary>
    public void Reconcile(GoalState goalState)
    {
        if (_time.GetUtcNow() >= _nextPrune)
        {
            Prune();
        }

        _startedByLastReconcile.Clear();
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
                active.Runner.OfferBlobUris(assignment);

                continue;
            }

            if (_refused.ContainsKey(id))
            {
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
        bool accepted;
        try
        {
            accepted = _store.TryAccept(record);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            RefuseUnrecordable(assignment, e);
            return;
        }

        if (!accepted)
        {
            return;
        }

        Log.ExecutionAccepted(_logger, assignment.ExecutionId, assignment.RunCommandName);
        var runner = CreateRunner(record, assignment.StdoutLength, assignment.StderrLength);
        Track(runner, endsNow ? runner.ResendFinalAsync : () => runner.RunNewAsync(assignment));
    }

    /// <summary>Message of an execution that could not be recorded in the state dir (full, read-only), so never started.</summary>
    public static string UnrecordableMessage(string detail) =>
        $"The agent could not record this execution in its state directory ({detail}), so it did not start it";

    /// <summary>
    /// The state dir refused the acceptance (disk full, read-only): nothing ran and nothing is on disk, so the
    /// execution is reported Failed rather than left Pending; a half-made directory is removed so that, should the
    /// report not arrive, a later goal state can still accept it properly. Reporting retries until it arrives.
    /// </summary>
    private void RefuseUnrecordable(ExecutionAssignment assignment, Exception e)
    {
        var id = assignment.ExecutionId;
        if (!_refused.TryAdd(id, 0))
        {
            return;
        }

        Log.CannotAccept(_logger, id, e.Message);
        try
        {
            Directory.Delete(PathsOf(id).Directory, recursive: true);
        }
        catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
        {
            // A read-only state dir keeps it; the next agent's recovery reports it as never started.
        }

        var shipper = new OutputShipper(id, PathsOf(id), _reporter, _settings, _logger, 0, 0, () => { });
        var report = new ExecutionReport { State = LocalState.Failed, Message = UnrecordableMessage(e.Message), EndTime = _time.GetUtcNow() };
        _ = ReportRefusalAsync(id, shipper, report);
    }

    private async Task ReportRefusalAsync(string executionId, OutputShipper shipper, ExecutionReport report)
    {
        try
        {
            await shipper.SendFinalAsync(report, _shutdown);
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            // Unreported: the server still lists it, and the next agent tries to accept it again (it never ran).
        }
        catch (Exception e)
        {
            Log.ExecutionCrashed(_logger, executionId, e);
        }
    }

    private ExecutionRunner CreateRunner(LocalExecutionRecord record, long stdoutAcked, long stderrAcked) =>
        new(record, PathsOf(record.ExecutionId), _store, _reporter, _settings, _time, _logger, stdoutAcked, stderrAcked, _downloader, _tracker, _spares, _shutdown);

    private ExecutionPaths PathsOf(string executionId) => new(Path.Combine(_executionsRoot, executionId));

    private void Track(ExecutionRunner runner, Func<Task> work)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = RunAsync(runner, gate.Task, work);
        _active[runner.ExecutionId] = (runner, task);
        _startedByLastReconcile.Add(Task.WhenAny(runner.FirstReport, task));
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
            // Reported and its cgroup removed: the next spare's cgroup join can no longer slow this execution.
            _spares?.Refill();
        }
    }
}
