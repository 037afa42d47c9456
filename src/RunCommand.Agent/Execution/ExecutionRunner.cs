using System.Diagnostics;
using Microsoft.Extensions.Logging;
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
    private readonly TaskCompletionSource _cancelRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The same request as a token, for work that takes one (a script download). Holds no timer: never disposed.
    private readonly CancellationTokenSource _cancelToken = new();
    private ExecutionRecord _record;

    public ExecutionRunner(
        ExecutionRecord record,
        ExecutionPaths paths,
        IExecutionStateStore store,
        IExecutionReporter reporter,
        ExecutionSettings settings,
        TimeProvider time,
        ILogger logger,
        long stdoutAcked,
        long stderrAcked,
        ScriptDownloader downloader,
        CancellationToken shutdown)
    {
        _downloader = downloader;
        _record = record;
        Paths = paths;
        _store = store;
        _settings = settings;
        _time = time;
        _logger = logger;
        _shutdown = shutdown;
        _shipper = new OutputShipper(record.ExecutionId, paths, reporter, settings, logger, stdoutAcked, stderrAcked, RequestCancel);
    }

    public string ExecutionId => _record.ExecutionId;

    public ExecutionPaths Paths { get; }

    public void RequestCancel()
    {
        _cancelRequested.TrySetResult();
        _cancelToken.Cancel();
    }

    /// <summary>Runs a freshly accepted execution (its record is already durable, state Accepted).</summary>
    public async Task RunNewAsync(ExecutionAssignment assignment)
    {
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

        byte[] script;
        if (assignment.ScriptUri is { } scriptUri)
        {
            // Before the script file exists: a failed download leaves nothing to run. Cancel aborts a slow download.
            using var abort = CancellationTokenSource.CreateLinkedTokenSource(_shutdown, _cancelToken.Token);
            ScriptDownload download;
            try
            {
                download = await _downloader.DownloadAsync(scriptUri, ExecutionId, abort.Token);
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

        LaunchedProcess launched;
        try
        {
            launched = ProcessLauncher.Start(BuildLaunchSpec(assignment) with { RunAs = runAs });
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
        // Checkpoint: the pid is durable from here on. If the agent dies before this line, the script may run
        // without a recorded pid; recovery then reports its exit code if the wrapper wrote one, else Failed.
        _store.Save(_record);
        Log.ExecutionStarted(_logger, ExecutionId, launched.Pid);
        await MonitorAsync(launched.Process.WaitForExitAsync(_shutdown), progress);
        launched.Process.Dispose();
    }

    /// <summary>Re-attaches to a live process group found at start-up (not our child any more: polls).</summary>
    public async Task ReattachAsync()
    {
        Log.ExecutionReattached(_logger, ExecutionId, _record.Pid!.Value);
        using var progress = StartProgressLoop();
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
            // Agent shutdown: leave the script running; the next agent re-attaches.
            await progress.StopAsync();
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

    /// <summary>SIGTERM to the whole group, a grace period, then SIGKILL: no grandchild survives.</summary>
    private async Task TerminateAsync(string reason)
    {
        var pgid = _record.Pid!.Value;
        // Checkpoint: the intent is durable before any signal, so an agent that dies mid-termination is
        // followed by one that reports TimedOut/Canceled instead of "ended without an exit code".
        _record = _record with { StopIntent = reason };
        _store.Save(_record);
        Log.Terminating(_logger, ExecutionId, pgid, reason);
        _ = Posix.Kill(-pgid, Posix.SigTerm);
        if (!await WaitForGroupGoneAsync(pgid, _settings.TerminationGracePeriod))
        {
            Log.GroupKilled(_logger, ExecutionId, pgid);
            _ = Posix.Kill(-pgid, Posix.SigKill);
            _ = await WaitForGroupGoneAsync(pgid, TimeSpan.FromSeconds(10));
        }
    }

    private async Task<bool> WaitForGroupGoneAsync(int pgid, TimeSpan limit)
    {
        var stopAt = _time.GetTimestamp() + (long)(limit.TotalSeconds * _time.TimestampFrequency);
        while (Posix.IsGroupAlive(pgid))
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

        _record = _record with { State = state, ExitCode = exitCode, Message = message, EndTime = _time.GetUtcNow() };
        // Checkpoint: the outcome is durable before it is reported; if the agent dies now, the next one
        // finds a terminal, unreported record and sends it again.
        _store.Save(_record);
        Log.ExecutionEnded(_logger, ExecutionId, state, exitCode, message);
        await ReportFinalAsync();
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
                _store.Save(_record);
            }
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            // Unreported on disk: the next agent sends it.
        }
    }

    private ProgressLoop StartProgressLoop() => new(this);

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

    private LaunchSpec BuildLaunchSpec(ExecutionAssignment assignment)
    {
        var all = assignment.Parameters.Concat(assignment.ProtectedParameters).ToList();
        return new LaunchSpec(
            Paths,
            [.. all.Where(p => p.Name.Length == 0).Select(p => p.Value)],
            [.. all.Where(p => p.Name.Length > 0).Select(p => KeyValuePair.Create(p.Name, p.Value))]);
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

            var sentRunning = await runner._shipper.SendProgressAsync(runner._record.StartTime, runner._shutdown);
            using var timer = new PeriodicTimer(runner._settings.ProgressInterval, runner._time);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (!sentRunning || runner._shipper.HasNewOutput)
                {
                    sentRunning = await runner._shipper.SendProgressAsync(runner._record.StartTime, runner._shutdown) || sentRunning;
                }
            }
        }
    }
}
