using Microsoft.Extensions.Options;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm.ActionRuns;
using RunCommand.Server.Arm.Documents;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Arm;

/// <summary>The run command operations behind the ARM endpoints: validation, writes, deletes, waits.</summary>
public sealed class RunCommandService
{
    /// <summary>Largest slice of output one logs call returns per stream.</summary>
    public const int MaxLogChunkBytes = 1 << 20;

    /// <summary>How long after a run starts a progress-showing operation poll is answered (see GetOperationStatusAsync).</summary>
    public static readonly TimeSpan StartGrace = TimeSpan.FromMilliseconds(250);

    /// <summary>A start this long before an operation poll began may be news to its client (see GetOperationStatusAsync).</summary>
    public static readonly TimeSpan RecentStart = TimeSpan.FromSeconds(1);

    private readonly IChangeFeed _changes;
    private readonly SecretProtector _protector;
    private readonly TimeProvider _time;
    private readonly ServerOptions _options;
    private readonly ILogger<RunCommandService> _logger;
    private readonly CommandDocuments _documents;
    private readonly LongPolls _polls;

    public RunCommandService(IRunCommandStore store, IMachineStore machines, IChangeFeed changes, SecretProtector protector, RunCommandViews views, CommandDocuments documents, TimeProvider time, IOptions<ServerOptions> options, ServerIdentity identity, LongPolls polls, ILogger<RunCommandService> logger)
    {
        _polls = polls;
        _documents = documents;
        Store = store;
        Machines = machines;
        Views = views;
        _changes = changes;
        _protector = protector;
        _time = time;
        _options = options.Value;
        SubscriptionId = identity.SubscriptionId;
        _logger = logger;
    }

    public IRunCommandStore Store { get; }

    public IMachineStore Machines { get; }

    public RunCommandViews Views { get; }

    public string SubscriptionId { get; }

    public VmKey ResolveVm(HttpRequest request, string subscriptionId, string resourceGroup, string vmName) =>
        ThrowIfAny(CheckVm(request, subscriptionId, resourceGroup, vmName));

    public VmKey ResolveInstance(HttpRequest request, string subscriptionId, string resourceGroup, string scaleSetName, string instanceId) =>
        ThrowIfAny(CheckInstance(request, subscriptionId, resourceGroup, scaleSetName, instanceId));

    /// <summary>
    /// The machine a request's route names: a VM (<c>{vmName}</c>) or a scale-set instance (<c>{vmScaleSetName}</c> and
    /// <c>{instanceId}</c>), so the run command endpoints serve both from one set of handlers.
    /// </summary>
    public VmKey ResolveMachine(HttpRequest request) => ThrowIfAny(CheckMachine(request));

    /// <summary>The run command a request's route names, under a VM or a scale-set instance; every naming error at once.</summary>
    public RunCommandKey ResolveCommand(HttpRequest request, string runCommandName)
    {
        var (machine, errors) = CheckMachine(request);
        errors.AddRange(ArmNames.CheckRunCommandName(runCommandName));
        ThrowIfAny((machine, errors));
        return new RunCommandKey(machine, runCommandName);
    }

    private (VmKey Machine, List<ArmError> Errors) CheckMachine(HttpRequest request)
    {
        var values = request.RouteValues;
        var subscriptionId = (string)values["subscriptionId"]!;
        var resourceGroup = (string)values["resourceGroupName"]!;
        return values.TryGetValue("vmScaleSetName", out var scaleSet) && scaleSet is string scaleSetName
            ? CheckInstance(request, subscriptionId, resourceGroup, scaleSetName, (string)values["instanceId"]!)
            : CheckVm(request, subscriptionId, resourceGroup, (string)values["vmName"]!);
    }

    private (VmKey Machine, List<ArmError> Errors) CheckVm(HttpRequest request, string subscriptionId, string resourceGroup, string vmName)
    {
        ArmNames.RequireComputeApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, SubscriptionId);
        var errors = ArmNames.CheckResourceGroup(resourceGroup).Concat(ArmNames.CheckVmName(vmName)).ToList();
        return (new VmKey(SubscriptionId, resourceGroup, vmName), errors);
    }

    private (VmKey Machine, List<ArmError> Errors) CheckInstance(HttpRequest request, string subscriptionId, string resourceGroup, string scaleSetName, string instanceId)
    {
        ArmNames.RequireComputeApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, SubscriptionId);
        var errors = ArmNames.CheckResourceGroup(resourceGroup).Concat(ArmNames.CheckVmName(scaleSetName)).Concat(ArmNames.CheckInstanceId(instanceId)).ToList();

        return (new VmKey(SubscriptionId, resourceGroup, instanceId, scaleSetName), errors);
    }

    private static VmKey ThrowIfAny((VmKey Machine, List<ArmError> Errors) checkedMachine) =>
        checkedMachine.Errors.Count > 0 ? throw new ArmRequestException(checkedMachine.Errors) : checkedMachine.Machine;

    public async Task<VmRecord> RequireVmAsync(VmKey vm, CancellationToken cancellationToken) =>
        await Machines.GetVmAsync(vm, cancellationToken) ?? throw VmNotFound(vm);

    public async Task<RunCommandRecord> RequireAsync(RunCommandKey key, CancellationToken cancellationToken)
    {
        var record = await Store.GetRunCommandAsync(key, cancellationToken);
        if (record is not null)
        {
            return record;
        }

        await RequireVmAsync(key.Vm, cancellationToken);
        throw new ArmRequestException(StatusCodes.Status404NotFound, "ResourceNotFound",
            $"The Resource 'Microsoft.Compute/{key.Vm.DisplayName}/runCommands/{key.Name}' under resource group '{key.Vm.ResourceGroup}' was not found.");
    }

    /// <summary>The error of a request whose location is not the VM's; null when it names none or the VM's.</summary>
    private static ArmError? LocationError(RunCommandRequest request, VmRecord vm) =>
        request.Location is { } location && !Locations.Same(location, vm.Location)
            ? ArmNames.Invalid("InvalidParameter", "location",
                $"The location '{location}' does not match the location of virtual machine '{vm.Vm.VmName}' ('{vm.Location}').")
            : null;

    private static ArmRequestException VmNotFound(VmKey vm) => vm.ScaleSetName is { } scaleSet
        ? new(StatusCodes.Status404NotFound, "ResourceNotFound",
            $"The Resource 'Microsoft.Compute/{vm.DisplayName}' under resource group '{vm.ResourceGroup}' was not found. An instance exists once an agent has enrolled into the scale set (./runcmd agent --vmss-name {scaleSet} --resource-group {vm.ResourceGroup}).",
            "instanceId")
        : new(StatusCodes.Status404NotFound, "ResourceNotFound",
            $"The Resource 'Microsoft.Compute/virtualMachines/{vm.VmName}' under resource group '{vm.ResourceGroup}' was not found. A VM exists once its agent has enrolled (./runcmd agent --vm-name {vm.VmName} --resource-group {vm.ResourceGroup}).",
            "vmName");

    /// <summary>PUT or PATCH: validates everything at once, then records the write and answers as ARM does.</summary>
    public async Task<IResult> WriteAsync(HttpContext http, RunCommandKey key, RunCommandRequest request, bool isPatch, CancellationToken cancellationToken)
    {
        // The activity-log entry commits with the write (one transaction a PUT); a refused write throws before it is marked.
        var activity = ActivityLogRecorder.EntryFor(http);
        var outcome = await WriteCoreAsync(key, request, isPatch, kind => activity(StatusOf(kind)), cancellationToken);
        ActivityLogRecorder.MarkRecorded(http);
        var record = outcome.Record!;
        SetOperationHeaders(http, record.OperationId, location: false);
        if (outcome.Kind == WriteOutcomeKind.Unchanged)
        {
            http.Response.Headers[ArmHeaders.Unchanged] = "true";
        }

        var resource = await Views.ToResourceAsync(record, expandInstanceView: false, cancellationToken);
        return Results.Json(resource, ContractsJsonContext.Default.RunCommandResource, statusCode: StatusOf(outcome.Kind));
    }

    private static int StatusOf(WriteOutcomeKind kind) => kind == WriteOutcomeKind.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK;

    /// <summary>
    /// The write behind PUT, PATCH and deployments: validation (every error at once), secrets sealing, command
    /// document resolution and the store write. Throws <see cref="ArmRequestException"/> for anything refused.
    /// <paramref name="activity"/>, when given, is the activity-log entry stored in the write's transaction.
    /// </summary>
    public async Task<WriteOutcome> WriteCoreAsync(RunCommandKey key, RunCommandRequest request, bool isPatch, Func<WriteOutcomeKind, AuditRecord>? activity, CancellationToken cancellationToken)
    {
        // A valid PUT checks its VM and location inside the write's own transaction (one transaction a PUT, not a read
        // before it). A PATCH, or a request with errors, reads the VM first as before: its 404 comes before them, and a
        // wrong location is reported with them, all at once.
        var checkFirst = isPatch || request.Errors.Count > 0;
        var vm = checkFirst ? await RequireVmAsync(key.Vm, cancellationToken) : null;
        var errors = request.Errors.ToList();
        if (vm is not null && LocationError(request, vm) is { } locationError)
        {
            errors.Add(locationError);
        }

        RunCommandRecord? existing = null;
        if (isPatch)
        {
            existing = await RequireAsync(key, cancellationToken);
        }

        if (errors.Count > 0)
        {
            throw new ArmRequestException(errors);
        }

        var currentSecrets = existing is null ? null : _protector.Unseal(existing.SealedSecrets);
        var (spec, secrets) = request.Apply(existing?.Spec, currentSecrets);

        // A commandId is resolved now, once: the run keeps the document's script even if the document changes later.
        var (resolved, documentErrors) = await _documents.ResolveManagedAsync(spec, secrets.ProtectedParameters, cancellationToken);
        if (documentErrors.Count > 0)
        {
            // A missing VM and a wrong location still come before a document's errors.
            vm ??= await RequireVmAsync(key.Vm, cancellationToken);
            throw LocationError(request, vm) is { } wrongLocation ? new ArmRequestException([wrongLocation]) : new ArmRequestException(documentErrors);
        }

        spec = resolved;
        var write = new RunCommandWrite
        {
            Command = key,
            Location = vm?.Location,
            ExpectedLocation = vm is null ? request.Location : null,
            Tags = request.Tags ?? existing?.Tags,
            Spec = spec,
            SealedSecrets = _protector.Seal(secrets),
            Fingerprint = _protector.Fingerprint(StorageFormat.Serialize(spec with { ProtectedParameterCount = 0 }), secrets),
            MaxRunCommandsPerVm = _options.MaxRunCommandsPerVm,
            Activity = activity,
        };
        var outcome = await Store.PutRunCommandAsync(write, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), _time.GetUtcNow(), cancellationToken);
        switch (outcome.Kind)
        {
            case WriteOutcomeKind.VmNotFound:
                throw VmNotFound(key.Vm);
            case WriteOutcomeKind.LocationMismatch:
                throw new ArmRequestException([LocationError(request, outcome.Vm!)!]);
            case WriteOutcomeKind.LimitReached:
                throw new ArmRequestException(StatusCodes.Status409Conflict, "OperationNotAllowed",
                    $"Machine '{key.Vm.DisplayName}' already has the maximum of {_options.MaxRunCommandsPerVm} run commands. Delete one first.", "runCommandName");
            case WriteOutcomeKind.Deleting:
                throw new ArmRequestException(StatusCodes.Status409Conflict, "Conflict", $"Run command '{key.Name}' is being deleted; retry when the delete has finished.", "runCommandName");
        }

        Log.RunCommandWritten(_logger, outcome.Record!.Command.ResourceId, outcome.Kind.ToString(), outcome.Record.Execution.ExecutionId);
        return outcome;
    }

    public async Task<IResult> DeleteAsync(HttpContext http, RunCommandKey key, CancellationToken cancellationToken)
    {
        var outcome = await Store.DeleteRunCommandAsync(key, Guid.NewGuid().ToString(), _time.GetUtcNow(), cancellationToken);
        if (outcome.Kind == DeleteOutcomeKind.NotFound)
        {
            // Idempotent for a run command already gone, as ARM; a machine that does not exist is a 404, as for a GET.
            _ = await Machines.GetVmAsync(key.Vm, cancellationToken) ?? throw VmNotFound(key.Vm);
            return Results.NoContent();
        }

        Log.RunCommandDeleteAccepted(_logger, key.ResourceId, outcome.OperationId!);
        SetOperationHeaders(http, outcome.OperationId!, location: true);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    public void SetOperationHeaders(HttpContext http, string operationId, bool location)
    {
        var url = $"{RunCommandEndpoints.BaseUrl(http.Request)}/subscriptions/{SubscriptionId}/providers/Microsoft.Compute/locations/{_options.Location}/operations/{operationId}?api-version={Uri.EscapeDataString(http.Request.Query["api-version"].ToString())}";
        http.Response.Headers["Azure-AsyncOperation"] = url;
        if (location)
        {
            http.Response.Headers.Location = url + "&monitor=true";
        }

        http.Response.Headers.RetryAfter = "1";
    }

    /// <summary>Reads <c>waitSeconds</c> (RunCommand's long-poll extension): 0 when absent, capped at the server's maximum.</summary>
    public TimeSpan ReadWait(HttpRequest request)
    {
        var raw = request.Query["waitSeconds"].FirstOrDefault();
        if (raw is null)
        {
            return TimeSpan.Zero;
        }

        if (!int.TryParse(raw, out var seconds) || seconds < 0)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidParameter", "'waitSeconds' must be a non-negative whole number.", "waitSeconds");
        }

        var wait = TimeSpan.FromSeconds(seconds);
        return wait > _options.MaxLongPoll ? _options.MaxLongPoll : wait;
    }

    /// <summary>The status of an operation; with a wait, holds the call until it is terminal or the wait ends.</summary>
    public async Task<AsyncOperation?> GetOperationStatusAsync(string operationId, TimeSpan wait, bool answerOnStart, CancellationToken cancellationToken)
    {
        var operation = await Store.GetOperationAsync(operationId, cancellationToken);
        if (operation is null)
        {
            return null;
        }

        var deadline = _time.GetUtcNow() + wait;
        var looked = false;
        var seenPending = false;
        string? seenNote = null;
        while (true)
        {
            // Subscribe before reading, so a change between the read and the wait is not missed.
            var changed = operation.ExecutionId is { } executionId ? _changes.NextChangeAsync(Topics.Execution(executionId)) : null;
            var status = await ComputeStatusAsync(operation, cancellationToken);
            var remaining = deadline - _time.GetUtcNow();
            if (status.Status != OperationStatus.InProgress || remaining <= TimeSpan.Zero || _polls.Stopping)
            {
                return status;
            }

            // A waiting client shows the run's message (runcmd's "[3s] Pending: ..."): when the agent's note on a run that has
            // not started changes (a failed download attempt), answer at once rather than at the end of the wait.
            var execution = operation.ExecutionId is { } id ? await Store.GetExecutionAsync(id, cancellationToken) : null;
            var note = execution is { State: ExecutionState.Pending } ? execution.Message : null;
            if (looked && note is not null && note != seenNote)
            {
                return status;
            }

            // The start, seen during this wait by a client that shows progress (waitSeconds: runcmd, the portal), ends the
            // wait StartGrace later: a short run is still answered terminal on one poll, a longer one shows "Running" within
            // StartGrace instead of at the end of the client's wait. A start just before this poll (RecentStart: between
            // the client's last look and this poll) counts too. An ARM client (the SDK) keeps the whole hold: an answer in progress would cost
            // it its own second-long poll interval.
            var now = _time.GetUtcNow();
            if (answerOnStart && execution is { State: ExecutionState.Running } running
                && (seenPending || (!looked && running.StartTime is { } started && now - started < RecentStart))
                && now + StartGrace < deadline)
            {
                deadline = now + StartGrace;
                remaining = StartGrace;
            }

            (looked, seenNote, seenPending) = (true, note, execution is { State: ExecutionState.Pending });

            if (changed is null)
            {
                // A delete completes when its execution ends; watch that execution.
                var record = await Store.GetRunCommandAsync(StorageFormat.ParseRunCommandId(operation.ResourceId), cancellationToken);
                changed = record is null ? Task.CompletedTask : _changes.NextChangeAsync(Topics.Execution(record.Execution.ExecutionId));
                status = await ComputeStatusAsync(operation, cancellationToken);
                if (status.Status != OperationStatus.InProgress)
                {
                    return status;
                }
            }

            await _polls.WaitAsync(changed, remaining, cancellationToken);
            operation = await Store.GetOperationAsync(operationId, cancellationToken) ?? operation;
        }
    }

    private async Task<AsyncOperation> ComputeStatusAsync(OperationRecord operation, CancellationToken cancellationToken)
    {
        if (operation.Kind == OperationKind.Delete)
        {
            return new AsyncOperation
            {
                Name = operation.OperationId,
                Status = operation.Completed is null ? OperationStatus.InProgress : OperationStatus.Succeeded,
                StartTime = operation.Created,
                EndTime = operation.Completed,
            };
        }

        var execution = await Store.GetExecutionAsync(operation.ExecutionId!, cancellationToken);
        if (operation.Kind == OperationKind.Action)
        {
            return await ActionStatusAsync(operation, execution, cancellationToken);
        }

        var record = await Store.GetRunCommandAsync(StorageFormat.ParseRunCommandId(operation.ResourceId), cancellationToken);
        if (execution is null)
        {
            return Gone(operation);
        }

        // The spec that matters is the one the execution ran with; when the resource moved on, it is no longer current.
        var spec = record is not null && record.Execution.ExecutionId == execution.ExecutionId ? record.Spec : new RunCommandSpec();
        var (status, end, error) = RunCommandViews.PutStatus(execution, spec);
        return new AsyncOperation { Name = operation.OperationId, Status = status, StartTime = operation.Created, EndTime = end, Error = error };
    }

    /// <summary>
    /// An operation whose execution is no longer kept: its run command was deleted (which cancels a run still going),
    /// or retention removed it. Canceled, saying so, rather than a 404 for a client still polling.
    /// </summary>
    private static AsyncOperation Gone(OperationRecord operation) => new()
    {
        Name = operation.OperationId,
        Status = OperationStatus.Canceled,
        StartTime = operation.Created,
        Error = new ArmError { Code = "OperationCanceled", Message = "The run command was deleted (or its run's record removed by retention); its run is no longer kept." },
    };

    /// <summary>An action run's operation: done when the script has ended, with Azure's result and RunCommand's exit code.</summary>
    private async Task<AsyncOperation> ActionStatusAsync(OperationRecord operation, ExecutionRecord? execution, CancellationToken cancellationToken)
    {
        if (execution is null)
        {
            return Gone(operation);
        }

        if (!execution.IsTerminal)
        {
            return new AsyncOperation { Name = operation.OperationId, Status = OperationStatus.InProgress, StartTime = operation.Created };
        }

        if (execution.State == ExecutionState.Canceled)
        {
            return new AsyncOperation
            {
                Name = operation.OperationId,
                Status = OperationStatus.Canceled,
                StartTime = operation.Created,
                EndTime = execution.EndTime,
                Error = new ArmError { Code = "OperationCanceled", Message = execution.Message ?? "The run was canceled." },
            };
        }

        var stdout = await RunCommandViews.TailAsync(Store, execution, OutputStream.Stdout, cancellationToken);
        var stderr = await RunCommandViews.TailAsync(Store, execution, OutputStream.Stderr, cancellationToken);
        return new AsyncOperation
        {
            Name = operation.OperationId,
            Status = OperationStatus.Succeeded,
            StartTime = operation.Created,
            EndTime = execution.EndTime,
            Properties = new AsyncOperationProperties
            {
                Output = ActionRunResult.Build(execution, RunCommandViews.Utf8Tail(stdout), RunCommandViews.Utf8Tail(stderr)),
                ExecutionState = execution.State.ToString(),
                ExitCode = execution.ExitCode,
            },
        };
    }

    /// <summary>Output of the latest execution from the given offsets; waits for new bytes unless it has ended.</summary>
    public async Task<RunCommandLogs> ReadLogsAsync(RunCommandKey key, long stdoutOffset, long stderrOffset, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + wait;
        while (true)
        {
            var record = await RequireAsync(key, cancellationToken);
            var execution = record.Execution;
            var changed = _changes.NextChangeAsync(Topics.Execution(execution.ExecutionId));
            execution = await Store.GetExecutionAsync(execution.ExecutionId, cancellationToken) ?? execution;
            var hasNew = execution.StdoutLength > stdoutOffset || execution.StderrLength > stderrOffset;
            var remaining = deadline - _time.GetUtcNow();
            if (hasNew || execution.IsTerminal || remaining <= TimeSpan.Zero || _polls.Stopping)
            {
                var stdout = await Store.ReadOutputAsync(execution.ExecutionId, OutputStream.Stdout, stdoutOffset, MaxLogChunkBytes, cancellationToken);
                var stderr = await Store.ReadOutputAsync(execution.ExecutionId, OutputStream.Stderr, stderrOffset, MaxLogChunkBytes, cancellationToken);
                var finished = execution.IsTerminal
                    && stdoutOffset + stdout.Length >= execution.StdoutLength
                    && stderrOffset + stderr.Length >= execution.StderrLength;
                return new RunCommandLogs
                {
                    ExecutionId = execution.ExecutionId,
                    ExecutionState = execution.State.ToString(),
                    Finished = finished,
                    ExitCode = execution.ExitCode,
                    Stdout = new LogChunk { Offset = stdoutOffset, Data = stdout, NextOffset = stdoutOffset + stdout.Length },
                    Stderr = new LogChunk { Offset = stderrOffset, Data = stderr, NextOffset = stderrOffset + stderr.Length },
                };
            }

            await _polls.WaitAsync(changed, remaining, cancellationToken);
        }
    }
}
