using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>A run command addressed by its VM and name.</summary>
public sealed record RunCommandKey(VmKey Vm, string Name)
{
    public string ResourceId => $"{Vm.ResourceId}/runCommands/{Name}";

    public string Key => ResourceId.ToLowerInvariant();
}

/// <summary>
/// The non-secret part of what a run command runs. Secrets (protected parameters, run-as password) travel
/// beside it as a sealed (encrypted) blob the storage never looks into.
/// </summary>
public sealed record RunCommandSpec
{
    public string? Script { get; init; }

    public string? ScriptUri { get; init; }

    public string? CommandId { get; init; }

    /// <summary>Parameters as the caller gave them (what the API shows).</summary>
    public IReadOnlyList<RunCommandParameter> Parameters { get; init; } = [];

    /// <summary>
    /// For a <see cref="CommandId"/> source: the document's script (lines joined by "\n"), resolved when the command was
    /// written, so a later change of the document does not change what this command runs. Never shown by the API.
    /// </summary>
    public string? ResolvedScript { get; init; }

    /// <summary>
    /// For a <see cref="CommandId"/> source: <see cref="Parameters"/> with the document's defaults filled in; what the
    /// agent receives. Null for other sources (the agent receives <see cref="Parameters"/>).
    /// </summary>
    public IReadOnlyList<RunCommandParameter>? ResolvedParameters { get; init; }

    /// <summary>Names of the protected parameters (values are sealed); kept so PATCH and display know they exist.</summary>
    public int ProtectedParameterCount { get; init; }

    public bool AsyncExecution { get; init; }

    public string? RunAsUser { get; init; }

    /// <summary>0 means no limit.</summary>
    public int TimeoutInSeconds { get; init; }

    public string? OutputBlobUri { get; init; }

    public string? ErrorBlobUri { get; init; }

    /// <summary>Identities for a scriptUri / output / error blob without SAS (names of agent-side storage credentials); null: none.</summary>
    public RunCommandManagedIdentity? ScriptUriManagedIdentity { get; init; }

    public RunCommandManagedIdentity? OutputBlobManagedIdentity { get; init; }

    public RunCommandManagedIdentity? ErrorBlobManagedIdentity { get; init; }

    public bool TreatFailureAsDeploymentFailure { get; init; }
}

/// <summary>A run command resource as stored, with its current execution.</summary>
public sealed record RunCommandRecord
{
    public required RunCommandKey Command { get; init; }

    /// <summary>The run command's location; null: the VM's own, read in the write's transaction.</summary>
    public string? Location { get; init; }

    /// <summary>
    /// The location the request names, when it was not checked before the write: the write is refused
    /// (<see cref="WriteOutcomeKind.LocationMismatch"/>) unless the VM's is the same (<see cref="Locations.Same"/>).
    /// </summary>
    public string? ExpectedLocation { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    public required RunCommandSpec Spec { get; init; }

    /// <summary>Encrypted secrets; null when there are none.</summary>
    public byte[]? SealedSecrets { get; init; }

    /// <summary>Keyed fingerprint of spec + secrets: an identical PUT changes nothing.</summary>
    public required string Fingerprint { get; init; }

    /// <summary>The latest execution (each PUT that changes the command makes a new one).</summary>
    public required ExecutionRecord Execution { get; init; }

    /// <summary>The operation of the latest PUT/PATCH (or the delete, once deleting).</summary>
    public required string OperationId { get; init; }

    /// <summary>True for the first execution of the resource (provisioning says Creating rather than Updating).</summary>
    public required bool IsFirstExecution { get; init; }

    /// <summary>True once a delete was accepted; the row goes away when the execution has ended.</summary>
    public bool Deleting { get; init; }

    public required DateTimeOffset Created { get; init; }
}

/// <summary>One run of a run command on its VM.</summary>
public sealed record ExecutionRecord
{
    public required string ExecutionId { get; init; }

    /// <summary>Pending until the agent reports; then Running and a terminal state.</summary>
    public required ExecutionState State { get; init; }

    public int? ExitCode { get; init; }

    public string? Message { get; init; }

    public DateTimeOffset? StartTime { get; init; }

    public DateTimeOffset? EndTime { get; init; }

    /// <summary>True once a delete or a changed PUT asked the agent to stop it.</summary>
    public bool CancelRequested { get; init; }

    /// <summary>True once a goal state carrying it was sent to the agent.</summary>
    public bool Delivered { get; init; }

    /// <summary>Bytes of stdout held by the server.</summary>
    public long StdoutLength { get; init; }

    public long StderrLength { get; init; }

    /// <summary>When the server accepted it.</summary>
    public required DateTimeOffset Created { get; init; }

    public bool IsTerminal => State.IsTerminal();
}

/// <summary>An execution as the agent receives it: settings plus the still-sealed secrets.</summary>
public sealed record PendingWork
{
    public required RunCommandKey Command { get; init; }

    public required ExecutionRecord Execution { get; init; }

    public required RunCommandSpec Spec { get; init; }

    public byte[]? SealedSecrets { get; init; }
}

/// <summary>An execution with the last bytes of its output, as of the same snapshot.</summary>
public sealed record ExecutionWithTails(ExecutionRecord Execution, byte[] StdoutTail, byte[] StderrTail);

/// <summary>What a PUT or PATCH asks the store to make true.</summary>
public sealed record RunCommandWrite
{
    public required RunCommandKey Command { get; init; }

    /// <summary>The run command's location; null: the VM's own, read in the write's transaction.</summary>
    public string? Location { get; init; }

    /// <summary>
    /// The location the request names, when it was not checked before the write: the write is refused
    /// (<see cref="WriteOutcomeKind.LocationMismatch"/>) unless the VM's is the same (<see cref="Locations.Same"/>).
    /// </summary>
    public string? ExpectedLocation { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    public required RunCommandSpec Spec { get; init; }

    public byte[]? SealedSecrets { get; init; }

    public required string Fingerprint { get; init; }

    /// <summary>At most this many run commands may exist on the VM.</summary>
    public required int MaxRunCommandsPerVm { get; init; }

    /// <summary>
    /// The activity-log entry of this write, given how it ended: appended in the write's own transaction when the write
    /// is accepted (created, updated or unchanged), so the entry and the command commit together or not at all. A
    /// refused write stores nothing and appends nothing. Null: the write is not logged here (a fleet run's targets).
    /// </summary>
    public Func<WriteOutcomeKind, AuditRecord>? Activity { get; init; }
}

public enum WriteOutcomeKind
{
    Created,
    Updated,
    Unchanged,
    VmNotFound,
    /// <summary>The VM is in another location than <see cref="RunCommandWrite.ExpectedLocation"/>; <see cref="WriteOutcome.Vm"/> says which.</summary>
    LocationMismatch,
    LimitReached,
    Deleting,
}

/// <summary>Result of a PUT; <see cref="Record"/> is null only for the failure kinds; <see cref="Vm"/> is set for <see cref="WriteOutcomeKind.LocationMismatch"/>.</summary>
public sealed record WriteOutcome(WriteOutcomeKind Kind, RunCommandRecord? Record, VmRecord? Vm = null);

/// <summary>What a PUT decides on, read together (<see cref="IRunCommandRows.ReadForPutAsync"/>).</summary>
/// <param name="Vm">The run command's VM.</param>
/// <param name="Existing">The run command when it exists, with its current execution.</param>
/// <param name="RunCommandCount">The VM's run commands, deleting ones included.</param>
public sealed record RunCommandPutRead(VmRecord Vm, RunCommandRecord? Existing, int RunCommandCount);

public enum DeleteOutcomeKind
{
    NotFound,
    /// <summary>Accepted; <see cref="DeleteOutcome.OperationId"/> tracks it until the execution has stopped.</summary>
    Accepted,
}

public sealed record DeleteOutcome(DeleteOutcomeKind Kind, string? OperationId);

/// <summary>An asynchronous operation as stored: the PUT or DELETE that it tracks.</summary>
public sealed record OperationRecord
{
    public required string OperationId { get; init; }

    public required OperationKind Kind { get; init; }

    /// <summary>Resource id of the run command (display spelling).</summary>
    public required string ResourceId { get; init; }

    /// <summary>The execution a PUT or an action run started; null for a delete.</summary>
    public string? ExecutionId { get; init; }

    public required DateTimeOffset Created { get; init; }

    /// <summary>For a delete: when the resource was gone; null while in progress.</summary>
    public DateTimeOffset? Completed { get; init; }
}

/// <summary>An agent report, already checked to belong to the calling VM.</summary>
public sealed record ReportWrite
{
    public required string ExecutionId { get; init; }

    public required ExecutionState State { get; init; }

    public int? ExitCode { get; init; }

    public string? Message { get; init; }

    public DateTimeOffset? StartTime { get; init; }

    public DateTimeOffset? EndTime { get; init; }

    public long? StdoutOffset { get; init; }

    public byte[]? StdoutData { get; init; }

    public long? StderrOffset { get; init; }

    public byte[]? StderrData { get; init; }
}

/// <summary>
/// What the store holds for an execution after a report or an output upload. <paramref name="Gap"/>: an upload was
/// refused because it started past the end of what is held (nothing of it was kept).
/// </summary>
public sealed record ReportOutcome(long StdoutLength, long StderrLength, bool CancelRequested, bool Finished, bool Gap = false);

public enum OutputStream
{
    Stdout,
    Stderr,
}

/// <summary>
/// An action-style run (<c>POST .../virtualMachines/{vm}/runCommand</c>): an execution and an operation with no run
/// command resource around them, so it is never listed and never counts toward the per-VM limit. The agent sees it
/// as an ordinary execution whose run command name is <see cref="RunCommandName"/>.
/// </summary>
public sealed record ActionRunWrite
{
    public required VmKey Vm { get; init; }

    /// <summary>Name the agent shows for it; starts with a character run command names cannot have, so it never clashes.</summary>
    public required string RunCommandName { get; init; }

    public required RunCommandSpec Spec { get; init; }
}

/// <summary>
/// A run command row as a backend stores it: the resource with the id of its latest execution (the backend joins
/// the execution in when it reads a <see cref="RunCommandRecord"/>).
/// </summary>
public sealed record RunCommandRow
{
    public required RunCommandKey Command { get; init; }

    /// <summary>The run command's location; null: the VM's own, read in the write's transaction.</summary>
    public string? Location { get; init; }

    /// <summary>
    /// The location the request names, when it was not checked before the write: the write is refused
    /// (<see cref="WriteOutcomeKind.LocationMismatch"/>) unless the VM's is the same (<see cref="Locations.Same"/>).
    /// </summary>
    public string? ExpectedLocation { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    public required RunCommandSpec Spec { get; init; }

    public byte[]? SealedSecrets { get; init; }

    public required string Fingerprint { get; init; }

    public required string ExecutionId { get; init; }

    public required string OperationId { get; init; }

    public required bool IsFirstExecution { get; init; }

    public bool Deleting { get; init; }

    public required DateTimeOffset Created { get; init; }

    public static RunCommandRow From(RunCommandRecord record) => new()
    {
        Command = record.Command,
        Location = record.Location,
        Tags = record.Tags,
        Spec = record.Spec,
        SealedSecrets = record.SealedSecrets,
        Fingerprint = record.Fingerprint,
        ExecutionId = record.Execution.ExecutionId,
        OperationId = record.OperationId,
        IsFirstExecution = record.IsFirstExecution,
        Deleting = record.Deleting,
        Created = record.Created,
    };
}

/// <summary>An execution to record (Pending, not delivered): what the agent will run for <see cref="Command"/>.</summary>
public sealed record NewExecution
{
    public required string ExecutionId { get; init; }

    /// <summary>The run command (or action run name) it belongs to; the agent sees this name.</summary>
    public required RunCommandKey Command { get; init; }

    public required RunCommandSpec Spec { get; init; }

    public byte[]? SealedSecrets { get; init; }

    public required DateTimeOffset Created { get; init; }
}
