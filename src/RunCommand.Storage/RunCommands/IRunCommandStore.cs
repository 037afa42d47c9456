namespace RunCommand.Storage;

/// <summary>Run command resources, their executions and output, and the asynchronous operations tracking them.</summary>
public interface IRunCommandStore
{
    /// <summary>
    /// Creates or updates a run command. When the fingerprint is unchanged nothing happens (no re-run). Otherwise
    /// a new execution (Pending) is recorded for the agent, a still-running previous execution is asked to stop,
    /// and a new operation is started; its id is the record's <see cref="RunCommandRecord.OperationId"/>.
    /// </summary>
    Task<WriteOutcome> PutRunCommandAsync(RunCommandWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<RunCommandRecord?> GetRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken);

    /// <summary>A page of a VM's run commands ordered by name (case-insensitive), starting after <paramref name="afterName"/>.</summary>
    Task<IReadOnlyList<RunCommandRecord>> ListRunCommandsAsync(VmKey vm, string? afterName, int pageSize, CancellationToken cancellationToken);

    /// <summary>
    /// Accepts a delete: an execution that never reached the agent is canceled at once, a running one is asked to
    /// stop, and the resource disappears as soon as its execution has ended.
    /// </summary>
    Task<DeleteOutcome> DeleteRunCommandAsync(RunCommandKey command, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<OperationRecord?> GetOperationAsync(string operationId, CancellationToken cancellationToken);

    Task<ExecutionRecord?> GetExecutionAsync(string executionId, CancellationToken cancellationToken);

    /// <summary>
    /// Many executions read in one snapshot (one transaction, not one each: a fleet run's view and its orchestrator read
    /// every target's), each with the last <paramref name="tailBytes"/> of its stdout and stderr (none when 0).
    /// An execution that does not exist is absent from the answer.
    /// </summary>
    Task<IReadOnlyDictionary<string, ExecutionWithTails>> GetExecutionsAsync(IReadOnlyCollection<string> executionIds, int tailBytes, CancellationToken cancellationToken);

    /// <summary>
    /// Starts an action-style run: records a Pending execution for the VM's agent and an <see cref="OperationKind.Action"/>
    /// operation tracking it. Returns false (and does nothing) when the VM does not exist.
    /// </summary>
    Task<bool> StartActionRunAsync(ActionRunWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Stops one execution: one that never reached the agent is canceled at once, a delivered one is flagged and its
    /// agent told through its goal state. Returns false when it does not exist or has already ended.
    /// </summary>
    Task<bool> CancelExecutionAsync(string executionId, string message, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="maxBytes"/> bytes of an execution's stream from <paramref name="offset"/>.</summary>
    Task<byte[]> ReadOutputAsync(string executionId, OutputStream stream, long offset, int maxBytes, CancellationToken cancellationToken);

    /// <summary>How many run commands (not being deleted) are in each state of their current execution; every state is a key (0 when none).</summary>
    Task<IReadOnlyDictionary<ExecutionState, long>> CountRunCommandsByStateAsync(CancellationToken cancellationToken);
}
