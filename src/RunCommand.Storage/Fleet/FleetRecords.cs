using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>Identifies a fleet run: <c>/subscriptions/{sub}/resourceGroups/{rg}/providers/RunCommand.Fleet/runs/{name}</c>.</summary>
public sealed record FleetRunKey(string SubscriptionId, string ResourceGroup, string Name)
{
    public const string ResourceType = "RunCommand.Fleet/runs";

    public string ResourceId => $"/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroup}/providers/{ResourceType}/{Name}";

    public string Key => ResourceId.ToLowerInvariant();
}

/// <summary>What a fleet run runs and under which limits; fixed when it is created.</summary>
public sealed record FleetRunDefinition
{
    /// <summary>The selector as the caller gave it, kept for display.</summary>
    public required FleetTargetSelector Selector { get; init; }

    /// <summary>What runs on each target (secrets travel beside it, sealed).</summary>
    public required RunCommandSpec Spec { get; init; }

    /// <summary>At most this many targets have an unfinished execution at once (resolved from a count or a percentage).</summary>
    public required int MaxConcurrency { get; init; }

    /// <summary>Once more than this many targets have failed, no new target starts (resolved from a count or a percentage).</summary>
    public required int MaxErrors { get; init; }

    /// <summary>The limits as given ("10" or "10%"), for display.</summary>
    public required string MaxConcurrencyText { get; init; }

    public required string MaxErrorsText { get; init; }

    /// <summary>Name of the run command created on each target; its full output is read there.</summary>
    public required string RunCommandName { get; init; }

    /// <summary>Fingerprint every target's run command is written with (unique to this run, so it never matches an older one).</summary>
    public required string Fingerprint { get; init; }
}

/// <summary>How the targets were chosen; the server resolves it once, at creation.</summary>
public sealed record FleetTargetSelector
{
    /// <summary>Every machine (VMs and scale-set instances) of this resource group; null: no such filter.</summary>
    public string? ResourceGroup { get; init; }

    /// <summary>Machines carrying all these tags (exact values).</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Every instance of this scale set (in the run's resource group).</summary>
    public string? VirtualMachineScaleSet { get; init; }

    /// <summary>Explicit machine resource ids (VMs or scale-set instances).</summary>
    public IReadOnlyList<string>? VirtualMachines { get; init; }
}

/// <summary>One target of a fleet run as stored.</summary>
public sealed record FleetTargetRecord
{
    /// <summary>Position in the snapshot; targets start in this order.</summary>
    public required int Ordinal { get; init; }

    public required VmKey Machine { get; init; }

    /// <summary>The execution started on the target; null while it waits for a slot or when it was never started.</summary>
    public string? ExecutionId { get; init; }

    /// <summary>True once the run decided never to start it (too many errors, or canceled).</summary>
    public bool NotStarted { get; init; }

    /// <summary>True when the server could not start it (e.g. the machine's run command limit); counts as a failure.</summary>
    public bool StartFailed { get; init; }

    /// <summary>Why it was not started, or why starting failed.</summary>
    public string? Message { get; init; }
}

/// <summary>A fleet run as stored.</summary>
public sealed record FleetRunRecord
{
    public required FleetRunKey Run { get; init; }

    public required string Location { get; init; }

    public required FleetRunDefinition Definition { get; init; }

    public byte[]? SealedSecrets { get; init; }

    public required FleetRunState State { get; init; }

    public bool CancelRequested { get; init; }

    public required IReadOnlyList<FleetTargetRecord> Targets { get; init; }

    public required DateTimeOffset Created { get; init; }

    public DateTimeOffset? Completed { get; init; }
}

/// <summary>A target to start, with the ids its new execution and operation get (chosen by the caller: a unit may run twice).</summary>
public sealed record FleetTargetStart(int Ordinal, string NewExecutionId, string NewOperationId);

/// <summary>How starting one target ended: the execution it runs, or (with none) why the server could not start it.</summary>
public sealed record FleetTargetStartOutcome(int Ordinal, string? ExecutionId, string? FailureMessage);

public enum FleetCreateOutcome
{
    Created,

    /// <summary>A run of that name exists: runs are immutable (create another with a new name).</summary>
    Exists,
}
