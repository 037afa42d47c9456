namespace RunCommand.Contracts.Arm;

/// <summary>
/// A fleet run (RunCommand's own resource type, <c>RunCommand.Fleet/runs</c>, beyond Azure): one script run on many
/// machines chosen by a selector, with limits on how many run at once and how many may fail.
/// Path: <c>/subscriptions/{sub}/resourceGroups/{rg}/providers/RunCommand.Fleet/runs/{name}</c>.
/// </summary>
public sealed record FleetRunResource
{
    /// <summary>Read-only.</summary>
    public string? Id { get; init; }

    /// <summary>Read-only.</summary>
    public string? Name { get; init; }

    /// <summary>Read-only: <c>RunCommand.Fleet/runs</c>.</summary>
    public string? Type { get; init; }

    /// <summary>Required on PUT; the server's location.</summary>
    public string? Location { get; init; }

    public FleetRunProperties? Properties { get; init; }
}

public sealed record FleetRunProperties
{
    /// <summary>Which machines run the script; resolved once, when the run is created. Selectors combine with AND.</summary>
    public FleetTargets? Targets { get; init; }

    /// <summary>What runs, exactly as in a run command (script, scriptUri or commandId).</summary>
    public RunCommandSource? Source { get; init; }

    public IReadOnlyList<RunCommandParameter>? Parameters { get; init; }

    /// <summary>Write-only: never returned.</summary>
    public IReadOnlyList<RunCommandParameter>? ProtectedParameters { get; init; }

    /// <summary>Per target; 0 or absent: no limit.</summary>
    public int? TimeoutInSeconds { get; init; }

    public string? RunAsUser { get; init; }

    /// <summary>At most this many targets run at once: a count ("10") or a percentage of the targets ("10%", rounded up, at least 1). Default: all targets at once.</summary>
    public string? MaxConcurrency { get; init; }

    /// <summary>Once more targets than this have failed, no new target starts: a count ("1") or a percentage ("5%", rounded down). Default: no limit.</summary>
    public string? MaxErrors { get; init; }

    /// <summary>Read-only: Running, Succeeded (every target succeeded), Failed (some failed or were not started) or Canceled.</summary>
    public string? ProvisioningState { get; init; }

    /// <summary>Read-only: name of the run command created on each target, where its full output can be read.</summary>
    public string? RunCommandName { get; init; }

    /// <summary>Read-only: progress and each target's outcome.</summary>
    public FleetRunInstanceView? InstanceView { get; init; }
}

/// <summary>Target selectors; the run targets the machines that match every selector given.</summary>
public sealed record FleetTargets
{
    /// <summary>Machines of this resource group (VMs and scale-set instances).</summary>
    public string? ResourceGroup { get; init; }

    /// <summary>Machines having all these tags with these values.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Instances of this scale set of the run's resource group.</summary>
    public string? VirtualMachineScaleSet { get; init; }

    /// <summary>Resource ids of VMs or scale-set instances.</summary>
    public IReadOnlyList<string>? VirtualMachines { get; init; }
}

public sealed record FleetRunInstanceView
{
    /// <summary>Targets per state: Pending, Running, Succeeded, Failed, TimedOut, Canceled, NotStarted (every key present).</summary>
    public required IReadOnlyDictionary<string, int> Counts { get; init; }

    /// <summary>The targets on machines whose run commands the caller may read (a caller sees no more through a fleet run than directly).</summary>
    public required IReadOnlyList<FleetTargetStatus> Targets { get; init; }

    /// <summary>Targets on machines the caller may not read: counted here only, left out of <see cref="Targets"/> and <see cref="Counts"/>.</summary>
    public int HiddenTargets { get; init; }

    public DateTimeOffset? StartTime { get; init; }

    /// <summary>When the run reached its terminal state; null while running.</summary>
    public DateTimeOffset? EndTime { get; init; }
}

/// <summary>One target's outcome.</summary>
public sealed record FleetTargetStatus
{
    /// <summary>Resource id of the VM or scale-set instance.</summary>
    public required string ResourceId { get; init; }

    /// <summary>
    /// Pending (waiting for a slot or for its agent), Running, Succeeded (exit code 0), Failed (non-zero exit code, or the
    /// server could not start it), TimedOut, Canceled, or NotStarted (skipped after too many errors, or canceled first).
    /// </summary>
    public required string State { get; init; }

    public int? ExitCode { get; init; }

    public DateTimeOffset? StartTime { get; init; }

    public DateTimeOffset? EndTime { get; init; }

    /// <summary>Last 4 KiB of stdout; the full output is on the target's run command.</summary>
    public string? Output { get; init; }

    /// <summary>Last 4 KiB of stderr.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// RunCommand extension: bytes of stdout the server holds for this target, all of them once the target has ended.
    /// When it is the length of <see cref="Output"/> in UTF-8, <see cref="Output"/> is the whole stdout.
    /// </summary>
    public long? OutputLength { get; init; }

    /// <summary>RunCommand extension: bytes of stderr the server holds for this target (see <see cref="OutputLength"/>).</summary>
    public long? ErrorLength { get; init; }

    public string? Message { get; init; }
}

/// <summary>Target states of a fleet run beyond the execution states.</summary>
public static class FleetTargetStates
{
    public const string NotStarted = "NotStarted";

    /// <summary>Every state a target can be in, in display order.</summary>
    public static readonly IReadOnlyList<string> All =
        [ExecutionStates.Pending, ExecutionStates.Running, ExecutionStates.Succeeded, ExecutionStates.Failed, ExecutionStates.TimedOut, ExecutionStates.Canceled, NotStarted];
}

/// <summary>Lifecycle of a fleet run as a whole.</summary>
public static class FleetRunStates
{
    /// <summary>Targets are still starting or running.</summary>
    public const string Running = "Running";

    /// <summary>Every target ran and succeeded (exit code 0).</summary>
    public const string Succeeded = "Succeeded";

    /// <summary>Every target that started has ended, and at least one failed (or some were not started after too many errors).</summary>
    public const string Failed = "Failed";

    /// <summary>A cancel was asked: running targets were stopped, the rest never started.</summary>
    public const string Canceled = "Canceled";

    public static bool IsTerminal(string state) => state is Succeeded or Failed or Canceled;
}
