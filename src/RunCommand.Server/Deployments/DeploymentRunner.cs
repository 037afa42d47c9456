using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Hosting;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Deployments;

/// <summary>
/// Runs deployments in the background. All state is in the store, so this holds nothing that matters across a
/// restart: at start-up every Accepted or Running deployment is picked up again, operations already started are
/// not written again (their executions are waited on), and those not started start when their dependencies have
/// succeeded. Wakes on changes of the executions it waits on and of the deployment (cancel, delete) through
/// <see cref="IChangeFeed"/>; a slow safety timer covers a missed signal. A run that throws stops the host.
/// With several nodes, a deployment is driven only by the node holding its lease (<see cref="WorkLeases"/>), renewed
/// at every pass; every node scans for unfinished deployments whose lease ran out (their node died) and takes them
/// over, continuing from the store as after a restart.
/// </summary>
/// <remarks>
/// Success of an operation is the run command's provisioning state, as in ARM: a script that exits non-zero
/// succeeds unless the run command sets <c>treatFailureAsDeploymentFailure</c>. A failed operation fails the
/// deployment; what depends on it never starts, while resources independent of it still deploy (as ARM does).
/// </remarks>
public sealed class DeploymentRunner : BackgroundService
{
    /// <summary>Re-check interval when no change signal arrives (a guard, not the wake-up path); also renews the lease.</summary>
    public static readonly TimeSpan SafetyRecheckInterval = WorkLeases.RenewInterval;

    private readonly IDeploymentStore _store;
    private readonly IRunCommandStore _runCommands;
    private readonly IChangeFeed _changes;
    private readonly RunCommandService _service;
    private readonly SecretProtector _protector;
    private readonly TimeProvider _time;
    private readonly ILogger<DeploymentRunner> _logger;
    private readonly ConcurrentDictionary<string, Task> _runs = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _fatal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationToken _stopping;
    private readonly WorkLeases _leases;

    /// <summary>Deployments this node drives right now (their RunAsync is between its first and last lease check).</summary>
    private readonly ConcurrentDictionary<string, byte> _driving = new(StringComparer.Ordinal);

    public DeploymentRunner(IDeploymentStore store, IRunCommandStore runCommands, IChangeFeed changes, RunCommandService service, SecretProtector protector, TimeProvider time, IHostApplicationLifetime lifetime, WorkLeases leases, ILogger<DeploymentRunner> logger)
    {
        _leases = leases;
        // The host's stopping token rather than ExecuteAsync's: a PUT may call Start before ExecuteAsync has run.
        _stopping = lifetime.ApplicationStopping;
        _store = store;
        _runCommands = runCommands;
        _changes = changes;
        _service = service;
        _protector = protector;
        _time = time;
        _logger = logger;
    }

    /// <summary>Starts (or queues behind the current run of the same name) the orchestration of a stored deployment.</summary>
    public void Start(DeploymentKey key)
    {
        _runs.AddOrUpdate(key.Key,
            _ => Guard(key, Task.Run(() => RunAsync(key, _stopping))),
            (_, previous) => Guard(key, previous.ContinueWith(_ => RunAsync(key, _stopping), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap()));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Every few seconds: unfinished deployments nobody drives (never started here, or their node died) are taken up.
        // Ends only when a run fails unexpectedly (rethrown: the host stops) or the host stops.
        try
        {
            while (!_fatal.Task.IsCompleted)
            {
                foreach (var deployment in await _store.ListUnfinishedDeploymentsAsync(stoppingToken))
                {
                    if (!_driving.ContainsKey(deployment.Deployment.Key) && await _leases.IsFreeAsync(LeaseKind.Deployment, deployment.Deployment.Key, stoppingToken))
                    {
                        Log.DeploymentResumed(_logger, deployment.Deployment.ResourceId, deployment.State.ToString());
                        Start(deployment.Deployment);
                    }
                }

                await Task.WhenAny(_fatal.Task, Task.Delay(WorkLeases.RenewInterval, _time, stoppingToken));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping; also a start that failed (the host then logs a cancelled service as a failure).
            return;
        }

        await _fatal.Task;
    }

    private Task Guard(DeploymentKey key, Task run) => run.ContinueWith(t =>
    {
        if (t.Exception is { } e && !_stopping.IsCancellationRequested)
        {
            Log.DeploymentRunnerFailed(_logger, e.GetBaseException(), key.ResourceId);
            _fatal.TrySetException(e.GetBaseException());
        }
    }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

    private async Task RunAsync(DeploymentKey key, CancellationToken cancellationToken)
    {
        _driving[key.Key] = 0;
        try
        {
            await DriveAsync(key, cancellationToken);
        }
        finally
        {
            _driving.TryRemove(key.Key, out _);
        }
    }

    private async Task DriveAsync(DeploymentKey key, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RunPassesAsync(key, cancellationToken);
                return;
            }
            catch (Exception e) when (e is StorageFullException or StorageBusyException)
            {
                // A full disk or writes that kept conflicting are not bugs: nothing of the failed write was kept, so the next pass redoes it.
                Log.BackgroundStorageUnavailable(_logger, "the deployment runner", e is StorageFullException ? "disk full" : "write conflicts persisted", StorageFullRetryInterval.TotalSeconds);
                await Task.Delay(StorageFullRetryInterval, _time, cancellationToken);
            }
        }
    }

    /// <summary>Pause before a deployment's pass is tried again after the store's disk was full.</summary>
    public static readonly TimeSpan StorageFullRetryInterval = TimeSpan.FromSeconds(5);

    private async Task RunPassesAsync(DeploymentKey key, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            // Each pass first takes or renews the lease: a node that lost it (another took over) stops at once.
            if (!await _leases.HoldAsync(LeaseKind.Deployment, key.Key, cancellationToken))
            {
                return;
            }

            // Subscribe before reading, so a change in between is not missed.
            var waits = new List<Task> { _changes.NextChangeAsync(Topics.Deployment(key)) };
            var deployment = await _store.GetDeploymentAsync(key, cancellationToken);
            if (deployment is null || deployment.IsTerminal)
            {
                await _leases.ReleaseAsync(LeaseKind.Deployment, key.Key, cancellationToken);
                return;
            }

            if (await CollectEndedAsync(deployment, waits, cancellationToken))
            {
                continue;
            }

            var byIndex = deployment.Operations.ToDictionary(o => o.Plan.Index);
            var ready = deployment.Operations
                .Where(o => o.State is null && o.Plan.DependsOn.All(i => byIndex[i].State == DeploymentState.Succeeded))
                .ToList();
            if (ready.Count > 0)
            {
                // Independent resources start together; each write is its own checkpoint (see StartOperationAsync).
                await Task.WhenAll(ready.Select(o => StartOperationAsync(deployment, o, cancellationToken)));
                continue;
            }

            if (deployment.Operations.All(o => o.State is null or DeploymentState.Succeeded or DeploymentState.Failed or DeploymentState.Canceled))
            {
                var failed = deployment.Operations.Where(o => o.State is DeploymentState.Failed or DeploymentState.Canceled).ToList();
                var error = failed.Count == 0 ? null : new ArmError
                {
                    Code = "DeploymentFailed",
                    Message = $"At least one resource deployment operation failed: {string.Join(", ", failed.Select(o => o.Plan.ResourceName))}. "
                        + (deployment.Operations.Any(o => o.State is null) ? $"Not started because a dependency failed: {string.Join(", ", deployment.Operations.Where(o => o.State is null).Select(o => o.Plan.ResourceName))}. " : "")
                        + "See the deployment operations for details.",
                    Details = failed.Select(o => o.Error ?? new ArmError { Code = "ResourceDeploymentFailure", Message = $"'{o.Plan.ResourceName}' ended {o.State}." }).ToList(),
                };
                var state = failed.Count == 0 ? DeploymentState.Succeeded : DeploymentState.Failed;
                if (await _store.FinishDeploymentAsync(key, deployment.DeploymentId, state, error, _time.GetUtcNow(), cancellationToken))
                {
                    Log.DeploymentFinished(_logger, key.ResourceId, state.ToString());
                }

                continue;
            }

            using var recheck = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            waits.Add(Task.Delay(SafetyRecheckInterval, _time, recheck.Token));
            await Task.WhenAny(waits);
            await recheck.CancelAsync();
        }
    }

    /// <summary>
    /// Records the end of every started operation whose run command has reached a final provisioning state; adds a
    /// wait for each one still running. True when something was recorded (the caller reads the deployment again).
    /// </summary>
    private async Task<bool> CollectEndedAsync(DeploymentRecord deployment, List<Task> waits, CancellationToken cancellationToken)
    {
        var recorded = false;
        foreach (var operation in deployment.Operations.Where(o => o.State == DeploymentState.Running))
        {
            var executionId = operation.ExecutionId!;
            waits.Add(_changes.NextChangeAsync(Topics.Execution(executionId)));
            var execution = await _runCommands.GetExecutionAsync(executionId, cancellationToken);
            string status;
            ArmError? error;
            if (execution is null)
            {
                (status, error) = (OperationStatus.Canceled, new ArmError { Code = "ResourceDeleted", Message = $"The run command '{operation.Plan.ResourceName}' was deleted before it finished." });
            }
            else
            {
                var command = await _runCommands.GetRunCommandAsync(StorageFormat.ParseRunCommandId(operation.Plan.ResourceId), cancellationToken);
                // The spec that decides is the one the execution ran with; if the resource moved on, read it from the plan.
                var spec = command is not null && command.Execution.ExecutionId == executionId ? command.Spec : SpecOfPlan(operation.Plan);
                (status, _, error) = RunCommandViews.PutStatus(execution, spec);
            }

            if (status == OperationStatus.InProgress)
            {
                continue;
            }

            var statusCode = status == OperationStatus.Succeeded ? "OK" : "Conflict";
            if (await _store.RecordDeploymentOperationEndedAsync(deployment.Deployment, deployment.DeploymentId, operation.Plan.Index, Enum.Parse<DeploymentState>(status), statusCode, error, _time.GetUtcNow(), cancellationToken))
            {
                Log.DeploymentOperationEnded(_logger, deployment.Deployment.ResourceId, operation.Plan.ResourceName, status);
            }

            recorded = true;
        }

        return recorded;
    }

    /// <summary>
    /// Writes one run command through the same path as a PUT. Checkpoint: the write is durable before the operation
    /// is marked started; if the process dies in between, the restart writes it again with the same body, which the
    /// fingerprint makes a no-op (same execution, no second run).
    /// </summary>
    private async Task StartOperationAsync(DeploymentRecord deployment, DeploymentOperationRecord operation, CancellationToken cancellationToken)
    {
        var plain = _protector.UnsealBytes(operation.Plan.SealedBody);
        RunCommandRequest request;
        try
        {
            using var body = JsonDocument.Parse(plain);
            request = RunCommandRequest.Parse(body.RootElement, isPatch: false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }

        var key = StorageFormat.ParseRunCommandId(operation.Plan.ResourceId);
        try
        {
            var outcome = await _service.WriteCoreAsync(key, request, isPatch: false, activity: null, cancellationToken);
            var statusCode = outcome.Kind == WriteOutcomeKind.Created ? "Created" : "OK";
            await _store.RecordDeploymentOperationStartedAsync(deployment.Deployment, deployment.DeploymentId, operation.Plan.Index,
                outcome.Record!.Execution.ExecutionId, statusCode, _time.GetUtcNow(), cancellationToken);
            Log.DeploymentOperationStarted(_logger, deployment.Deployment.ResourceId, operation.Plan.ResourceName, outcome.Record.Execution.ExecutionId);
        }
        catch (ArmRequestException e)
        {
            var statusCode = e.Status switch
            {
                StatusCodes.Status404NotFound => "NotFound",
                StatusCodes.Status409Conflict => "Conflict",
                _ => "BadRequest",
            };
            await _store.RecordDeploymentOperationEndedAsync(deployment.Deployment, deployment.DeploymentId, operation.Plan.Index,
                DeploymentState.Failed, statusCode, e.ToError(), _time.GetUtcNow(), cancellationToken);
            Log.DeploymentOperationEnded(_logger, deployment.Deployment.ResourceId, operation.Plan.ResourceName, nameof(DeploymentState.Failed));
        }
    }

    private RunCommandSpec SpecOfPlan(DeploymentOperationPlan plan)
    {
        var plain = _protector.UnsealBytes(plan.SealedBody);
        try
        {
            using var body = JsonDocument.Parse(plain);
            var (spec, _) = RunCommandRequest.Parse(body.RootElement, isPatch: false).Apply(null, null);
            return spec;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }
}
