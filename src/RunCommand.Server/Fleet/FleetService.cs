using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Arm.Documents;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Fleet;

/// <summary>
/// Fleet runs as resources: validation and target resolution at creation (the targets are a snapshot), views with
/// counts and per-target outcomes, cancel. The running itself is <see cref="FleetOrchestrator"/>'s.
/// </summary>
public sealed class FleetService(
    IFleetRunStore store, IMachineStore machineStore, IRunCommandStore runCommands, IChangeFeed changes, SecretProtector protector, CommandDocuments documents, ServerIdentity identity, TimeProvider time, IOptions<ServerOptions> options, LongPolls polls)
{
    /// <summary>Prefix of the run command each target gets; its full output is read there.</summary>
    public const string RunCommandPrefix = "fleet-";

    public FleetRunKey Resolve(HttpRequest request, string subscriptionId, string resourceGroup, string name)
    {
        ArmNames.RequireApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        var errors = ArmNames.CheckResourceGroup(resourceGroup).Concat(ArmNames.CheckRunCommandName(RunCommandPrefix + name)).ToList();
        if (errors.Count > 0)
        {
            throw new ArmRequestException(errors);
        }

        return new FleetRunKey(identity.SubscriptionId, resourceGroup, name);
    }

    /// <param name="authorizeTarget">Throws when the caller may not run commands on a target (no escalation through a fleet run).</param>
    /// <param name="viewer">What the caller may read: the answer shows only the targets it may read directly.</param>
    public async Task<IResult> CreateAsync(FleetRunKey key, JsonElement root, Func<VmKey, Task> authorizeTarget, CallerGrants viewer, CancellationToken cancellationToken)
    {
        var request = RunCommandRequest.Parse(root, isPatch: false);
        var errors = request.Errors.ToList();
        if (request.Location is { } location && !string.Equals(location.Replace(" ", "", StringComparison.Ordinal), identity.Location, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "location", $"This server hosts location '{identity.Location}', not '{location}'."));
        }

        FleetTargets? targets = null;
        string? maxConcurrency = null, maxErrors = null;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            if (properties.TryGetProperty("targets", out var targetsElement) && targetsElement.ValueKind == JsonValueKind.Object)
            {
                try
                {
                    targets = targetsElement.Deserialize(ContractsJsonContext.Default.FleetTargets);
                }
                catch (JsonException e)
                {
                    errors.Add(ArmNames.Invalid("InvalidParameter", "properties.targets", "'targets' is not valid: " + ArmBody.Describe(e)));
                }
            }

            maxConcurrency = FleetLimits.Read(properties, "maxConcurrency", errors);
            maxErrors = FleetLimits.Read(properties, "maxErrors", errors);
        }

        if (targets is null || (targets.ResourceGroup is null && targets.Tags is null && targets.VirtualMachineScaleSet is null && targets.VirtualMachines is null))
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "properties.targets",
                "'properties.targets' must select machines: give resourceGroup, tags, virtualMachineScaleSet and/or virtualMachines."));
        }

        if (errors.Count > 0)
        {
            return ArmResults.Validation(errors);
        }

        var (spec, secrets) = request.Apply(null, null);
        var (resolved, documentErrors) = await documents.ResolveManagedAsync(spec, secrets.ProtectedParameters, cancellationToken);
        var (machines, targetErrors) = await ResolveTargetsAsync(key, targets!, cancellationToken);
        if (documentErrors.Count + targetErrors.Count > 0)
        {
            return ArmResults.Validation([.. documentErrors, .. targetErrors]);
        }

        foreach (var machine in machines)
        {
            await authorizeTarget(machine.Vm);
        }

        var now = time.GetUtcNow();
        var run = new FleetRunRecord
        {
            Run = key,
            Location = identity.Location,
            Definition = new FleetRunDefinition
            {
                Selector = new FleetTargetSelector
                {
                    ResourceGroup = targets!.ResourceGroup,
                    Tags = targets.Tags,
                    VirtualMachineScaleSet = targets.VirtualMachineScaleSet,
                    VirtualMachines = targets.VirtualMachines,
                },
                Spec = resolved,
                MaxConcurrency = FleetLimits.ResolveConcurrency(maxConcurrency, machines.Count),
                MaxErrors = FleetLimits.ResolveErrors(maxErrors, machines.Count),
                MaxConcurrencyText = maxConcurrency ?? machines.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                MaxErrorsText = maxErrors ?? machines.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                RunCommandName = RunCommandPrefix + key.Name,
                // Unique to this run: a target's run command is never taken for an earlier run's (no accidental "unchanged").
                Fingerprint = protector.Fingerprint(StorageFormat.Serialize(resolved with { ProtectedParameterCount = 0 }) + "\n" + key.Key + "\n" + Guid.NewGuid(), secrets),
            },
            SealedSecrets = protector.Seal(secrets),
            State = FleetRunState.Running,
            Targets = machines.Select((m, i) => new FleetTargetRecord { Ordinal = i, Machine = m.Vm }).ToList(),
            Created = now,
        };

        if (await store.CreateFleetRunAsync(run, cancellationToken) == FleetCreateOutcome.Exists)
        {
            return ArmResults.Conflict("Conflict", $"Fleet run '{key.Name}' already exists; a run is not changed once created. Create a new one with another name.", "name");
        }

        var created = await store.GetFleetRunAsync(key, cancellationToken) ?? run;
        return Results.Json(await ToResourceAsync(created, viewer, cancellationToken), ContractsJsonContext.Default.FleetRunResource, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>The machines a selector names now; every selector given must match (AND). Errors name what did not resolve.</summary>
    private async Task<(IReadOnlyList<VmRecord> Machines, IReadOnlyList<ArmError> Errors)> ResolveTargetsAsync(FleetRunKey key, FleetTargets targets, CancellationToken cancellationToken)
    {
        var errors = new List<ArmError>();
        IEnumerable<VmRecord> machines;
        if (targets.VirtualMachines is { } ids)
        {
            var found = new List<VmRecord>();
            foreach (var id in ids)
            {
                var vm = StorageFormat.ParseMachineId(id) is { } parsed ? await machineStore.GetVmAsync(parsed with { SubscriptionId = identity.SubscriptionId }, cancellationToken) : null;
                if (vm is null)
                {
                    errors.Add(ArmNames.Invalid("InvalidParameter", "properties.targets.virtualMachines",
                        $"'{id}' is not the resource id of a VM or scale-set instance of this server."));
                }
                else if (!found.Any(f => f.Vm.Key == vm.Vm.Key))
                {
                    found.Add(vm);
                }
            }

            machines = found;
        }
        else
        {
            machines = await machineStore.ListMachinesAsync(identity.SubscriptionId, targets.ResourceGroup ?? (targets.VirtualMachineScaleSet is null ? null : key.ResourceGroup), cancellationToken);
        }

        if (targets.ResourceGroup is { } group)
        {
            machines = machines.Where(m => string.Equals(m.Vm.ResourceGroup, group, StringComparison.OrdinalIgnoreCase));
        }

        if (targets.VirtualMachineScaleSet is { } scaleSet)
        {
            var scaleSetGroup = targets.ResourceGroup ?? key.ResourceGroup;
            machines = machines.Where(m => string.Equals(m.Vm.ScaleSetName, scaleSet, StringComparison.OrdinalIgnoreCase)
                && string.Equals(m.Vm.ResourceGroup, scaleSetGroup, StringComparison.OrdinalIgnoreCase));
        }

        if (targets.Tags is { } tags)
        {
            machines = machines.Where(m => tags.All(t => m.Tags is not null && m.Tags.TryGetValue(t.Key, out var value) && value == t.Value));
        }

        var list = machines.ToList();
        if (errors.Count == 0 && list.Count == 0)
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "properties.targets", "No machine matches the targets: nothing would run."));
        }

        return (list, errors);
    }

    public async Task<FleetRunRecord> RequireAsync(FleetRunKey key, CancellationToken cancellationToken) =>
        await store.GetFleetRunAsync(key, cancellationToken)
        ?? throw new ArmRequestException(StatusCodes.Status404NotFound, "ResourceNotFound",
            $"The Resource '{FleetRunKey.ResourceType}/{key.Name}' under resource group '{key.ResourceGroup}' was not found.");

    /// <summary>
    /// How long a waiting GET keeps collecting changes after the first one before it answers, at least: targets of a fleet
    /// end in bursts, and one answer per burst (not per target) keeps a followed run of N targets from costing N full views.
    /// </summary>
    public static readonly TimeSpan ChangeCoalescing = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// A waiting GET collects changes for at least this many times as long as the run's previous view took to build, so a
    /// client following a run has the server building its views at most a third of the time (a view of 10,000 targets
    /// costs a few hundred milliseconds; answered every 20 ms it took a core).
    /// </summary>
    public const int CoalescingPerViewCost = 2;

    private const int MaxFollowedRuns = 10_000;

    // How long the last view of each followed run took to build: what the next waiting GET of that run coalesces by.
    private readonly ConcurrentDictionary<FleetRunKey, TimeSpan> _viewCosts = new();

    /// <summary>The run's view; with a wait, holds the call until a target or the run changes (or the wait ends).</summary>
    /// <param name="viewer">What the caller may read: the answer shows only the targets it may read directly (and waits only on those).</param>
    public async Task<FleetRunResource> GetAsync(FleetRunKey key, TimeSpan wait, CallerGrants viewer, CancellationToken cancellationToken)
    {
        var waits = wait > TimeSpan.Zero && !polls.Stopping;
        // Subscribed before the read: a target started or the run ended after it wakes this call.
        var runChanged = waits ? changes.NextChangeAsync(Topics.Fleet(key)) : null;
        var started = time.GetTimestamp();
        FleetRunRecord record;
        try
        {
            record = await RequireAsync(key, cancellationToken);
        }
        catch when (runChanged is not null)
        {
            // No such run (or the read failed): release the subscription, or every call for a name that never changes
            // would leave one behind.
            changes.Publish(Topics.Fleet(key));
            throw;
        }

        if (runChanged is not null && !record.State.IsTerminal())
        {
            if (wait > options.Value.MaxLongPoll)
            {
                wait = options.Value.MaxLongPoll;
            }

            // Watch the run and every started target the caller may read, without reading their state first: a terminal execution never
            // changes, so watching it costs nothing, while reading every target's view before waiting cost 3 queries
            // a target on every call.
            var watched = new List<Task> { runChanged };
            watched.AddRange(record.Targets
                .Where(t => t.ExecutionId is not null && viewer.CanReadMachine(t.Machine))
                .Select(t => changes.NextChangeAsync(Topics.Execution(t.ExecutionId!))));
            var changed = Task.WhenAny(watched);
            await polls.WaitAsync(changed, wait, cancellationToken);
            if (changed.IsCompleted && !polls.Stopping)
            {
                // Targets' changes are collected for longer on a run whose view costs more; a change of the run itself
                // (targets started, or the run ended) ends the wait after the short one, so the end is seen at once.
                var coalescing = _viewCosts.TryGetValue(key, out var cost) && cost * CoalescingPerViewCost > ChangeCoalescing ? cost * CoalescingPerViewCost : ChangeCoalescing;
                await (runChanged.IsCompleted
                    ? Task.Delay(ChangeCoalescing, time, cancellationToken)
                    : Task.WhenAny(Task.Delay(coalescing, time, cancellationToken), runChanged));
            }

            started = time.GetTimestamp();
            record = await RequireAsync(key, cancellationToken);
        }

        var view = await ToResourceAsync(record, viewer, cancellationToken);
        if (record.State.IsTerminal())
        {
            _viewCosts.TryRemove(key, out _);
        }
        else
        {
            if (_viewCosts.Count >= MaxFollowedRuns)
            {
                // Runs followed on this node that ended while nobody looked leave entries: start over now and then.
                _viewCosts.Clear();
            }

            _viewCosts[key] = time.GetElapsedTime(started);
        }

        return view;
    }

    public async Task<IReadOnlyList<FleetRunResource>> ListAsync(string resourceGroup, CallerGrants viewer, CancellationToken cancellationToken)
    {
        var result = new List<FleetRunResource>();
        foreach (var run in await store.ListFleetRunsAsync(identity.SubscriptionId, resourceGroup, cancellationToken))
        {
            result.Add(await ToResourceAsync(run, viewer, cancellationToken));
        }

        return result;
    }

    /// <summary>
    /// The run as <paramref name="viewer"/> may see it: a target on a machine whose run commands the viewer may not read
    /// is left out of the targets, the counts and the selector's machine ids, and only counted in <c>hiddenTargets</c>.
    /// </summary>
    public async Task<FleetRunResource> ToResourceAsync(FleetRunRecord run, CallerGrants viewer, CancellationToken cancellationToken)
    {
        var visible = run.Targets.Where(t => viewer.CanReadMachine(t.Machine)).ToList();
        var hidden = run.Targets.Count - visible.Count;

        // Every target's execution and output tails in one snapshot: one read a target cost a transaction each (3,000 for a
        // run of 1,000), and a followed run is viewed again at every burst of changes.
        var executions = await runCommands.GetExecutionsAsync([.. visible.Where(t => t.ExecutionId is not null).Select(t => t.ExecutionId!)], RunCommandViews.TailBytes, cancellationToken);
        var targets = visible.Select(t => TargetStatus(t, executions)).ToList();

        var counts = FleetTargetStates.All.ToDictionary(s => s, s => targets.Count(t => t.State == s));
        var definition = run.Definition;
        return new FleetRunResource
        {
            Id = run.Run.ResourceId,
            Name = run.Run.Name,
            Type = FleetRunKey.ResourceType,
            Location = run.Location,
            Properties = new FleetRunProperties
            {
                Targets = new FleetTargets
                {
                    ResourceGroup = definition.Selector.ResourceGroup,
                    Tags = definition.Selector.Tags,
                    VirtualMachineScaleSet = definition.Selector.VirtualMachineScaleSet,
                    VirtualMachines = definition.Selector.VirtualMachines?
                        .Where(id => StorageFormat.ParseMachineId(id) is { } machine && viewer.CanReadMachine(machine with { SubscriptionId = identity.SubscriptionId }))
                        .ToList(),
                },
                Source = new RunCommandSource { Script = definition.Spec.Script, ScriptUri = definition.Spec.ScriptUri, CommandId = definition.Spec.CommandId },
                Parameters = definition.Spec.Parameters,
                TimeoutInSeconds = definition.Spec.TimeoutInSeconds,
                RunAsUser = definition.Spec.RunAsUser,
                MaxConcurrency = definition.MaxConcurrencyText,
                MaxErrors = definition.MaxErrorsText,
                ProvisioningState = run.State.ToString(),
                RunCommandName = definition.RunCommandName,
                InstanceView = new FleetRunInstanceView { Counts = counts, Targets = targets, HiddenTargets = hidden, StartTime = run.Created, EndTime = run.Completed },
            },
        };
    }

    private static FleetTargetStatus TargetStatus(FleetTargetRecord target, IReadOnlyDictionary<string, ExecutionWithTails> executions)
    {
        var id = target.Machine.ResourceId;
        if (target.ExecutionId is null)
        {
            var state = target.NotStarted ? FleetTargetStates.NotStarted : target.StartFailed ? ExecutionStates.Failed : ExecutionStates.Pending;
            return new FleetTargetStatus { ResourceId = id, State = state, Message = target.Message };
        }

        if (!executions.TryGetValue(target.ExecutionId, out var found))
        {
            return new FleetTargetStatus { ResourceId = id, State = ExecutionStates.Canceled, Message = "The execution no longer exists (its run command was deleted)." };
        }

        var execution = found.Execution;
        return new FleetTargetStatus
        {
            ResourceId = id,
            State = execution.State.ToString(),
            ExitCode = execution.ExitCode,
            StartTime = execution.StartTime,
            EndTime = execution.EndTime,
            Output = RunCommandViews.Utf8Tail(found.StdoutTail),
            Error = RunCommandViews.Utf8Tail(found.StderrTail),
            OutputLength = execution.StdoutLength,
            ErrorLength = execution.StderrLength,
            Message = execution.Message,
        };
    }
}
