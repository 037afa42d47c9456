using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RunCommand.Agent.Blobs;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Execution;

/// <summary>
/// Drives one execution from acceptance (or recovery) to its reported terminal state. Shutdown of the agent
/// stops the runner but never the script: it keeps running and is re-attached at the next start.
/// </summary>
internal sealed class ExecutionRunner
{
    private readonly IExecutionStateStore _store;
    private readonly ExecutionSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationToken _shutdown;
    private readonly OutputShipper _shipper;
    private readonly ScriptDownloader _downloader;
    private readonly ProcessTracker _tracker;
    private readonly SpareWrapperSlot? _spares;
    private readonly TaskCompletionSource _cancelRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The same request as a token, for work that takes one (a script download). Holds no timer: never disposed.
    private readonly CancellationTokenSource _cancelToken = new();
    private readonly TaskCompletionSource<ExecutionAssignment> _blobUris = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LocalExecutionRecord _record;

    // What the server and the blobs have of the spool files: the page cache behind both is let go.
    private readonly SpoolTrail _trail;

    // Output/error blobs (null when the run command has none, or their URLs are not known yet after a restart).
    private OutputBlobs? _blobs;
    private bool _blobsSettled;
    private string? _blobNote;

    // Why the last checkpoint failed (state dir full or read-only); null while every save succeeded.
    private string? _stateNote;

    // Set by the progress loop when it finds the output's disk full while the script runs (latched: space freed
    // later does not bring lost writes back).
    private volatile bool _outputSpaceRanOut;
    private CancellationTokenSource? _blobLoopStop;
    private Task? _blobLoop;

    public ExecutionRunner(
        LocalExecutionRecord record,
        ExecutionPaths paths,
        IExecutionStateStore store,
        IExecutionReporter reporter,
        ExecutionSettings settings,
        TimeProvider time,
        ILogger logger,
        long stdoutAcked,
        long stderrAcked,
        ScriptDownloader downloader,
        ProcessTracker tracker,
        SpareWrapperSlot? spares,
        CancellationToken shutdown)
    {
        _downloader = downloader;
        _tracker = tracker;
        _spares = spares;
        _record = record;
        Paths = paths;
        _store = store;
        _settings = settings;
        _time = time;
        _logger = logger;
        _shutdown = shutdown;
        _trail = new SpoolTrail(paths, record.OutputBlob, record.ErrorBlob);
        _shipper = new OutputShipper(record.ExecutionId, paths, reporter, settings, logger, stdoutAcked, stderrAcked, RequestCancel, _trail);
    }

    public string ExecutionId => _record.ExecutionId;

    public ExecutionPaths Paths { get; }

    /// <summary>Completes once this execution's first report (Running, or the final one of a short script) has its answer, or failed.</summary>
    public Task FirstReport => _shipper.FirstReport;

    public void RequestCancel()
    {
        _cancelRequested.TrySetResult();
        _cancelToken.Cancel();
    }

    /// <summary>
    /// Gives a runner recovered after a restart the blob URLs of its execution (they carry SAS tokens, so they are
    /// never stored on disk and come again with every goal state, with their managed identities). Only the first offer counts.
    /// </summary>
    public void OfferBlobUris(ExecutionAssignment assignment) => _blobUris.TrySetResult(assignment);

    /// <summary>Runs a freshly accepted execution (its record is already durable, state Accepted).</summary>
    public async Task RunNewAsync(ExecutionAssignment assignment)
    {
        // A fresh run creates its blobs itself, just before the script starts, or never needs them.
        _blobsSettled = true;
        if (Validate(assignment) is { } problem)
        {
            await FinishAsync(LocalState.Failed, null, problem);
            return;
        }

        UserAccount? runAs = null;
        if (!string.IsNullOrEmpty(assignment.RunAsUser))
        {
            runAs = await UserAccount.LookupAsync(assignment.RunAsUser, _shutdown);
            if (runAs is null)
            {
                await FinishAsync(LocalState.Failed, null, $"runAsUser '{assignment.RunAsUser}' does not exist on this machine");
                return;
            }

            if (!File.Exists(ProcessLauncher.SetprivPath))
            {
                await FinishAsync(LocalState.Failed, null, $"runAsUser needs {ProcessLauncher.SetprivPath} (util-linux), which is missing");
                return;
            }

            if (!string.IsNullOrEmpty(assignment.RunAsPassword) && await CheckPasswordAsync(runAs.Name, assignment.RunAsPassword) is { } rejected)
            {
                await FinishAsync(LocalState.Failed, null, rejected);
                return;
            }
        }

        // Managed identities name storage credentials configured on this agent: an unknown one fails before anything runs.
        var credentials = _settings.StorageCredentials;
        var scriptKey = credentials.For("scriptUriManagedIdentity", assignment.ScriptUri, assignment.ScriptUriManagedIdentity, out var scriptKeyProblem);
        var outputKey = credentials.For("outputBlobManagedIdentity", assignment.OutputBlobUri, assignment.OutputBlobManagedIdentity, out var outputKeyProblem);
        var errorKey = credentials.For("errorBlobManagedIdentity", assignment.ErrorBlobUri, assignment.ErrorBlobManagedIdentity, out var errorKeyProblem);
        if ((scriptKeyProblem ?? outputKeyProblem ?? errorKeyProblem) is { } identityProblem)
        {
            await FinishAsync(LocalState.Failed, null, identityProblem);
            return;
        }

        byte[] script;
        if (assignment.ScriptUri is { } scriptUri)
        {
            // Before the script file exists: a failed download leaves nothing to run. Cancel aborts a slow download.
            using var abort = CancellationTokenSource.CreateLinkedTokenSource(_shutdown, _cancelToken.Token);
            ScriptDownload download;
            try
            {
                // Each failed attempt is reported (state Pending, the attempt as message) while the next one waits.
                download = await _downloader.DownloadAsync(scriptUri, ExecutionId, scriptKey, note => _shipper.SendNoteAsync(note, abort.Token), abort.Token);
            }
            catch (OperationCanceledException) when (_cancelRequested.Task.IsCompleted && !_shutdown.IsCancellationRequested)
            {
                await FinishAsync(LocalState.Canceled, null, "Canceled before it started");
                return;
            }

            if (download.Error is { } error)
            {
                await FinishAsync(LocalState.Failed, null, error);
                return;
            }

            script = download.Script!;
        }
        else
        {
            script = new System.Text.UTF8Encoding(false).GetBytes(assignment.Script!);
        }

        try
        {
            ProcessLauncher.PrepareFiles(Paths, script, runAs);
        }
        catch (IOException e)
        {
            await FinishAsync(LocalState.Failed, null, $"Could not write the script: {e.Message}");
            return;
        }

        if (_cancelRequested.Task.IsCompleted)
        {
            await FinishAsync(LocalState.Canceled, null, "Canceled before it started");
            return;
        }

        // The blobs exist (empty append blobs) before the script can write a byte; a blob that cannot be created
        // fails the execution here, so the script never runs without the output its caller asked to keep.
        _blobs = OutputBlobs.For(ExecutionId, Paths.Stdout, Paths.Stderr, assignment.OutputBlobUri, assignment.ErrorBlobUri, _settings.BlobHttpClient ?? BlobHttp.Shared, _settings.BlobAttempts, _logger, outputKey, errorKey, _trail);
        if (_blobs is not null && await _blobs.CreateAsync(NewBackoff(), _shutdown) is { } blobProblem)
        {
            _blobs = null;
            await FinishAsync(LocalState.Failed, null, blobProblem);
            return;
        }

        var spec = BuildLaunchSpec(assignment) with { RunAs = runAs };
        if (spec.PositionalThroughPipe && !ProcessLauncher.BashCanRun(Paths.Script))
        {
            await FinishAsync(LocalState.Failed, null, "Nameless protected parameters need a shell script (no #! line, or #! naming bash or sh): "
                + "they are set inside bash, never passed on a command line");
            return;
        }

        LaunchedProcess launched;
        try
        {
            launched = Launch(spec);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            await FinishAsync(LocalState.Failed, null, $"Could not start the script: {e.Message}");
            return;
        }

        var start = _time.GetUtcNow();
        _record = _record with
        {
            State = LocalState.Running,
            Pid = launched.Pid,
            ProcessStartTicks = launched.StartTicks,
            StartTime = start,
            Deadline = _record.TimeoutInSeconds > 0 ? start.AddSeconds(_record.TimeoutInSeconds) : null,
        };
        using var progress = StartProgressLoop();
        StartBlobLoop();
        // Checkpoint: the pid is durable from here on. If the agent dies before this line, the script may run
        // without a recorded pid; recovery then reports its exit code if the wrapper wrote one, else Failed.
        Checkpoint();
        Log.ExecutionStarted(_logger, ExecutionId, launched.Pid);
        await MonitorAsync(launched.Process.WaitForExitAsync(_shutdown), progress);
        launched.Process.Dispose();
    }

    /// <summary>
    /// Starts the script through the spare wrapper when one is ready and can carry the launch, else through a fresh
    /// one. Either way its cgroup exists and is recorded before the script can start: a restarted agent still kills
    /// all of it. A spare's pid is known before the script exists, so it is recorded in the same checkpoint: an agent
    /// that dies right after the launch is followed by one that re-attaches to the script rather than failing it.
    /// </summary>
    private LaunchedProcess Launch(LaunchSpec spec)
    {
        var command = ProcessLauncher.CommandOf(spec);
        var changed = false;
        var launch = _spares is null ? null : SpareWrapper.EncodeLaunch(spec, command);
        try
        {
            if (launch is not null && _spares?.TryTake() is { } spare)
            {
                _record = _record with { Cgroup = spare.Cgroup, Pid = spare.Pid, ProcessStartTicks = spare.StartTicks };
                Checkpoint();
                try
                {
                    return spare.Launch(launch);
                }
                catch (IOException)
                {
                    // The spare was gone before it read a byte, so nothing ran: a fresh wrapper starts the script.
                    spare.Dispose();
                    _record = _record with { Cgroup = null, Pid = null, ProcessStartTicks = null };
                    changed = true;
                }
            }
        }
        finally
        {
            // The launch may hold secrets (protected parameters in its environment).
            Array.Clear(launch ?? []);
        }

        if (_tracker.CreateCgroup(ExecutionId, _logger) is { } cgroup)
        {
            _record = _record with { Cgroup = cgroup };
            changed = true;
        }

        if (changed)
        {
            Checkpoint();
        }

        return ProcessLauncher.Start(spec with { Cgroup = _record.Cgroup }, command);
    }

    /// <summary>Re-attaches to a live process group found at start-up (not our child any more: polls).</summary>
    public async Task ReattachAsync()
    {
        Log.ExecutionReattached(_logger, ExecutionId, _record.Pid!.Value);
        using var progress = StartProgressLoop();
        // The blobs were created by the previous agent: continue from their current length, never recreate them.
        StartBlobLoop();
        await MonitorAsync(PollUntilEndedAsync(_record.Pid.Value, _record.ProcessStartTicks ?? 0), progress);
    }

    /// <summary>Records a terminal state found or decided without a live process, and reports it.</summary>
    public Task FinishAsync(string state, int? exitCode, string? message) => FinishCoreAsync(state, exitCode, message, null);

    /// <summary>Sends the final report of an execution already terminal on disk (after a restart, or when the server forgot).</summary>
    public async Task ResendFinalAsync()
    {
        Log.ResendingFinalReport(_logger, ExecutionId);
        await ReportFinalAsync();
    }

    private async Task MonitorAsync(Task exited, ProgressLoop progress)
    {
        using var stopWaiting = CancellationTokenSource.CreateLinkedTokenSource(_shutdown);
        var waits = new List<Task> { exited, _cancelRequested.Task };
        Task? deadline = null;
        if (_record.StopIntent is null && _record.Deadline is { } due)
        {
            var remaining = due - _time.GetUtcNow();
            deadline = remaining > TimeSpan.Zero ? Task.Delay(remaining, _time, stopWaiting.Token) : Task.CompletedTask;
            waits.Add(deadline);
        }

        // A termination that a previous agent began (intent on disk) is carried on at once.
        var first = _record.StopIntent is not null ? null : await Task.WhenAny(waits);
        await stopWaiting.CancelAsync();
        if (_shutdown.IsCancellationRequested && first != _cancelRequested.Task && !exited.IsCompletedSuccessfully)
        {
            // Agent shutdown: leave the script running; the next agent re-attaches (and continues the blobs).
            await progress.StopAsync();
            await StopBlobLoopAsync();
            return;
        }

        // Ended on its own, even if a cancel or the deadline fired in the same instant: the true outcome wins.
        if (exited.IsCompletedSuccessfully && _record.StopIntent is null && (first == exited || Paths.TryReadExitCode() is not null))
        {
            await FinishFromExitCodeAsync(progress);
            return;
        }

        var reason = _record.StopIntent ?? (first == deadline ? LocalState.TimedOut : LocalState.Canceled);
        await TerminateAsync(reason);
        var message = reason == LocalState.TimedOut ? $"Timed out after {_record.TimeoutInSeconds} s" : "Canceled";
        await FinishCoreAsync(reason, null, message, progress);
    }

    private async Task FinishFromExitCodeAsync(ProgressLoop progress)
    {
        if (_outputSpaceRanOut || OutputSpace.IsFull(Paths.Directory))
        {
            // Writes of the script may have failed with ENOSPC: never its own success with output silently lost.
            var kept = Paths.TryReadExitCode();
            await FinishCoreAsync(LocalState.Failed, kept, OutputSpace.LostOutputMessage(kept), progress);
            return;
        }

        if (Paths.TryReadExitCode() is { } code)
        {
            await FinishCoreAsync(
                code == 0 ? LocalState.Succeeded : LocalState.Failed,
                code,
                code == 0 ? null : $"Script exited with code {code}",
                progress);
        }
        else
        {
            await FinishCoreAsync(LocalState.Failed, null, ExecutionManager.EndedWithoutExitCode, progress);
        }
    }

    /// <summary>
    /// SIGTERM to the whole group and cgroup, a grace period, then SIGKILL to all of it: no grandchild survives, not
    /// even one that left the process group (setsid, double fork) when the execution has a cgroup.
    /// </summary>
    private async Task TerminateAsync(string reason)
    {
        var pgid = _record.Pid!.Value;
        var cgroup = _record.Cgroup;
        // Checkpoint: the intent is durable before any signal, so an agent that dies mid-termination is
        // followed by one that reports TimedOut/Canceled instead of "ended without an exit code".
        _record = _record with { StopIntent = reason };
        Checkpoint();
        Log.Terminating(_logger, ExecutionId, pgid, reason);
        ProcessTracker.Terminate(pgid, cgroup);
        if (!await WaitForGroupGoneAsync(pgid, cgroup, _settings.TerminationGracePeriod))
        {
            Log.GroupKilled(_logger, ExecutionId, pgid);
            await _tracker.KillAsync(pgid, cgroup, _time);
            _ = await WaitForGroupGoneAsync(pgid, cgroup, TimeSpan.FromSeconds(10));
        }
    }

    private async Task<bool> WaitForGroupGoneAsync(int pgid, string? cgroup, TimeSpan limit)
    {
        var stopAt = _time.GetTimestamp() + (long)(limit.TotalSeconds * _time.TimestampFrequency);
        while (ProcessTracker.IsAlive(pgid, cgroup))
        {
            if (_time.GetTimestamp() >= stopAt)
            {
                return false;
            }

            await Task.Delay(_settings.GroupPollInterval, _time);
        }

        return true;
    }

    private async Task PollUntilEndedAsync(int pid, ulong startTicks)
    {
        using var timer = new PeriodicTimer(_settings.ReattachPollInterval, _time);
        while (Paths.TryReadExitCode() is null && ProcStat.IsSameLiveProcess(pid, startTicks))
        {
            _ = await timer.WaitForNextTickAsync(_shutdown);
            _shutdown.ThrowIfCancellationRequested();
        }
    }

    private async Task FinishCoreAsync(string state, int? exitCode, string? message, ProgressLoop? progress)
    {
        if (progress is not null)
        {
            await progress.StopAsync();
        }

        // The blobs get their last bytes before the terminal state exists anywhere, so a client that sees it can
        // read complete blobs. A blob that stays unwritable does not change the outcome: it is noted in the message.
        // Meanwhile the server gets the output still waiting in whole chunks: blob store and server are different
        // peers, so the two go at once instead of one after the other (the final report then sends at most a chunk).
        var blobs = FlushBlobsAsync();
        await Task.WhenAll(blobs, _shipper.SendBacklogAsync(_record.StartTime, CancellationToken.None, _shutdown));
        if (await blobs is { } note)
        {
            message = message is null ? note : $"{message}; {note}";
        }

        // A run that ends before its script started (download, blob or run-as failure) starts when it ends: the server
        // would otherwise take its own, later clock for startTime and show an endTime before it.
        var now = _time.GetUtcNow();
        _record = _record with { State = state, ExitCode = exitCode, Message = message, StartTime = _record.StartTime ?? now, EndTime = now };
        // Checkpoint: the outcome is durable before it is reported; if the agent dies now, the next one
        // finds a terminal, unreported record and sends it again. If the state dir refuses it, the report
        // still goes out (from memory) and says so.
        Checkpoint();
        if (_stateNote is not null)
        {
            _record = _record with { Message = message is null ? _stateNote : $"{message}; {_stateNote}" };
        }
        Log.ExecutionEnded(_logger, ExecutionId, state, exitCode, message);
        await ReportFinalAsync();
        // An emptied cgroup goes now; one a script left a process in (a daemon it started) stays until that ends
        // (retention removes it then). After the report: removing a cgroup waits for the kernel's cgroup lock, which a
        // cgroup join elsewhere (the next spare wrapper's) may hold through an RCU grace period.
        ProcessTracker.TryRemove(_record.Cgroup);
    }

    private async Task ReportFinalAsync()
    {
        var report = new ExecutionReport
        {
            State = _record.State,
            ExitCode = _record.ExitCode,
            Message = _record.Message,
            StartTime = _record.StartTime,
            EndTime = _record.EndTime,
        };
        try
        {
            if (await _shipper.SendFinalAsync(report, _shutdown))
            {
                _record = _record with { Reported = true };
                Checkpoint();
            }
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            // Unreported on disk: the next agent sends it.
        }
    }

    private ProgressLoop StartProgressLoop() => new(this);

    /// <summary>
    /// Saves the record. A state dir that is full or read-only does not stop the execution: the agent goes on from
    /// memory (the script runs, is watched and reported), logs the failure once, and the final message says the
    /// state was not saved (a restart of the agent before the report would then find an older state on disk).
    /// </summary>
    private void Checkpoint()
    {
        try
        {
            _store.Save(_record);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (_stateNote is null)
            {
                Log.StateNotSaved(_logger, ExecutionId, e.Message);
            }

            _stateNote = $"the agent could not save its state of this execution ({e.Message})";
        }
    }

    /// <summary>Checks a run-as password with PAM; returns why it cannot be used, or null when it is accepted.</summary>
    private static async Task<string?> CheckPasswordAsync(string user, string password)
    {
        // PAM blocks (a wrong password costs pam_unix's ~2 s delay): keep it off the agent's other work.
        var outcome = await Task.Factory.StartNew(() => PamAuthenticator.Check(user, password), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return outcome switch
        {
            PamOutcome.Accepted => null,
            PamOutcome.Rejected => $"runAsPassword was rejected for user '{user}'",
            PamOutcome.AccountUnusable => $"runAsPassword is right but the account of user '{user}' may not log in (expired, locked or its password must be changed)",
            _ => "runAsPassword cannot be checked: libpam.so.0 (Debian package libpam0g) is missing",
        };
    }

    private Backoff NewBackoff() => new(_settings.RetryInitialDelay, _settings.RetryMaxDelay);

    /// <summary>Appends new output to the blobs while the script runs (after a restart: once their URLs arrived).</summary>
    private void StartBlobLoop()
    {
        if (_blobs is null && !(_record.OutputBlob || _record.ErrorBlob))
        {
            return;
        }

        _blobLoopStop = CancellationTokenSource.CreateLinkedTokenSource(_shutdown);
        _blobLoop = PumpBlobsAsync(_blobLoopStop.Token);
    }

    private async Task PumpBlobsAsync(CancellationToken stop)
    {
        // Stopping only ends the waits between passes: an append in flight completes (only shutdown aborts it).
        try
        {
            if (_blobs is null)
            {
                _blobNote = await AttachBlobsAsync();
            }

            var backoff = NewBackoff();
            while (_blobs is not null && !stop.IsCancellationRequested)
            {
                var ok = await _blobs.PumpOnceAsync(_shutdown);
                if (ok)
                {
                    backoff.Reset();
                }

                await Task.Delay(ok ? _settings.ProgressInterval : backoff.Next(), _time, stop);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped (the final flush follows) or shutdown (the next agent continues from the blobs' length).
        }
    }

    private async Task StopBlobLoopAsync()
    {
        if (_blobLoop is null)
        {
            return;
        }

        await _blobLoopStop!.CancelAsync();
        await _blobLoop;
        _blobLoop = null;
        _blobLoopStop.Dispose();
        _blobLoopStop = null;
    }

    /// <summary>Waits for the blob URLs after a restart (they come with the goal state) and resumes from the blobs' length.</summary>
    private async Task<string?> AttachBlobsAsync()
    {
        _blobsSettled = true;
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(_shutdown);
        var timeout = Task.Delay(_settings.BlobUrlWait, _time, wait.Token);
        var first = await Task.WhenAny(_blobUris.Task, timeout);
        await wait.CancelAsync();
        _shutdown.ThrowIfCancellationRequested();
        if (first != _blobUris.Task)
        {
            return "output/error blobs not written: their URLs did not arrive after the agent restarted";
        }

        var assignment = await _blobUris.Task;
        var output = _record.OutputBlob ? assignment.OutputBlobUri : null;
        var error = _record.ErrorBlob ? assignment.ErrorBlobUri : null;
        var outputKey = _settings.StorageCredentials.For("outputBlobManagedIdentity", output, assignment.OutputBlobManagedIdentity, out var outputProblem);
        var errorKey = _settings.StorageCredentials.For("errorBlobManagedIdentity", error, assignment.ErrorBlobManagedIdentity, out var errorProblem);
        if ((outputProblem ?? errorProblem) is { } problem)
        {
            return "output/error blobs not written after the agent restarted: " + problem;
        }

        _blobs = OutputBlobs.For(
            ExecutionId, Paths.Stdout, Paths.Stderr, output, error, _settings.BlobHttpClient ?? BlobHttp.Shared, _settings.BlobAttempts, _logger, outputKey, errorKey, _trail);
        _blobs?.ResumeFromBlobLength();
        return null;
    }

    /// <summary>Writes the blobs' last bytes; returns a note when a blob could not be (fully) written.</summary>
    private async Task<string?> FlushBlobsAsync()
    {
        await StopBlobLoopAsync();
        if (_blobs is null && !_blobsSettled && _record.Pid is not null && (_record.OutputBlob || _record.ErrorBlob))
        {
            // Recovered after a restart, the script already ended: its blobs still need the bytes written since.
            _blobNote = await AttachBlobsAsync();
        }

        if (_blobs is null)
        {
            return _blobNote;
        }

        await _blobs.FlushAsync(NewBackoff(), _shutdown);
        return _blobs.FailureNote;
    }

    private static string? Validate(ExecutionAssignment assignment)
    {
        if (assignment.Script is null && assignment.ScriptUri is null)
        {
            return "The run command has neither a script nor a scriptUri";
        }

        foreach (var parameter in assignment.Parameters.Concat(assignment.ProtectedParameters))
        {
            if (parameter.Name.Length > 0 && !IsEnvironmentName(parameter.Name))
            {
                // The name is not secret (only values are), so it may be echoed back.
                return $"Parameter name '{parameter.Name}' is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)";
            }

            if (parameter.Value.Contains('\0', StringComparison.Ordinal))
            {
                return parameter.Name.Length > 0
                    ? $"The value of parameter '{parameter.Name}' contains a NUL character"
                    : "A positional parameter contains a NUL character";
            }
        }

        return null;
    }

    internal static bool IsEnvironmentName(string name) =>
        name.Length > 0
        && (char.IsAsciiLetter(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    /// <summary>
    /// Public parameters, then protected ones (Azure's order: <c>myscript.sh public1 public2 secret1 secret2</c>). When a
    /// nameless one is protected, all positional values go through the pipe, so their order stays that one.
    /// </summary>
    private LaunchSpec BuildLaunchSpec(ExecutionAssignment assignment)
    {
        var all = assignment.Parameters.Concat(assignment.ProtectedParameters).ToList();
        return new LaunchSpec(
            Paths,
            [.. all.Where(p => p.Name.Length == 0).Select(p => p.Value)],
            [.. all.Where(p => p.Name.Length > 0).Select(p => KeyValuePair.Create(p.Name, p.Value))],
            PositionalThroughPipe: assignment.ProtectedParameters.Any(p => p.Name.Length == 0));
    }

    /// <summary>Sends Running at once, then a report whenever output grew, until stopped.</summary>
    private sealed class ProgressLoop : IDisposable
    {
        private readonly CancellationTokenSource _stop;
        private readonly Task _loop;

        public ProgressLoop(ExecutionRunner runner)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(runner._shutdown);
            _loop = RunAsync(runner, _stop.Token);
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
                // Stopped mid-report: the final report resends from the last ack.
            }
        }

        // Cancels only: the loop may still be finishing with the token, so the source is left to the GC.
        public void Dispose() => _stop.Cancel();

        private static async Task RunAsync(ExecutionRunner runner, CancellationToken cancellationToken)
        {
            // The first report waits a moment: a script that ends within it is reported once, by the final
            // report, instead of paying a Running round trip on its latency path. Stopping only ends the waits
            // between reports: a report in flight completes (cancelling it would drop the HTTP connection the
            // final report is about to reuse); only shutdown aborts it.
            try
            {
                await Task.Delay(runner._settings.FirstReportDelay, runner._time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var sentRunning = await SendAsync(runner, cancellationToken);
            using var timer = new PeriodicTimer(runner._settings.ProgressInterval, runner._time);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                runner._outputSpaceRanOut |= OutputSpace.IsFull(runner.Paths.Directory);
                if (!sentRunning || runner._shipper.HasNewOutput)
                {
                    sentRunning = await SendAsync(runner, cancellationToken) || sentRunning;
                }
            }
        }

        /// <summary>
        /// Sends a progress report, then more at once while a whole chunk is waiting: a script writing more than a chunk
        /// a tick is shipped back to back, not a chunk a tick (that capped output at 4 MiB/s while it ran). Smaller
        /// writes wait for the next tick and go as one report. True when the first report went through.
        /// </summary>
        private static async Task<bool> SendAsync(ExecutionRunner runner, CancellationToken cancellationToken)
        {
            var sent = await runner._shipper.SendProgressAsync(runner._record.StartTime, runner._shutdown);
            if (sent)
            {
                await runner._shipper.SendBacklogAsync(runner._record.StartTime, cancellationToken, runner._shutdown);
            }

            return sent;
        }
    }
}
