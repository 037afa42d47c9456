namespace RunCommand.Storage;

/// <summary>Rows of run commands, executions, output chunks and operations.</summary>
public interface IRunCommandRows
{
    /// <summary>The run command with its current execution joined in; null when none.</summary>
    Task<RunCommandRecord?> GetRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="take"/> run commands of a VM ordered by lower-cased name, after <paramref name="afterLowerName"/> when set.</summary>
    Task<IReadOnlyList<RunCommandRecord>> ListRunCommandsAsync(VmKey vm, string? afterLowerName, int take, CancellationToken cancellationToken);

    /// <summary>
    /// What a PUT decides on, in one read: the command's VM, the run command when it exists and how many run commands
    /// the VM has (deleting ones included: the count kept on the VM's row, see <see cref="IMachineRows.BumpGoalVersionAsync"/>
    /// and <see cref="DeleteRunCommandAsync"/>); null when the VM does not exist.
    /// </summary>
    Task<RunCommandPutRead?> ReadForPutAsync(RunCommandKey command, CancellationToken cancellationToken);

    /// <summary>Inserts or replaces the run command row (all columns as given).</summary>
    Task SaveRunCommandAsync(RunCommandRow row, CancellationToken cancellationToken);

    /// <summary>Deletes the run command row and takes it off its VM's count of run commands.</summary>
    Task DeleteRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken);

    /// <summary>The run command being deleted whose current execution is <paramref name="executionId"/>, or null.</summary>
    Task<RunCommandRecord?> FindDeletingRunCommandAsync(string executionId, CancellationToken cancellationToken);

    /// <summary>Inserts a Pending, undelivered execution for <paramref name="vm"/>.</summary>
    Task InsertExecutionAsync(VmKey vm, NewExecution execution, CancellationToken cancellationToken);

    /// <summary>The execution and the run command (or action run name) it belongs to, which names its machine; null when none.</summary>
    Task<(ExecutionRecord Execution, RunCommandKey Command)?> GetExecutionAsync(string executionId, CancellationToken cancellationToken);

    /// <summary>The executions of <paramref name="executionIds"/> that exist, in no particular order: one statement per few hundred ids.</summary>
    Task<IReadOnlyList<ExecutionRecord>> GetExecutionsAsync(IReadOnlyList<string> executionIds, CancellationToken cancellationToken);

    /// <summary>
    /// For every execution of <paramref name="executionIds"/>, the chunks of <paramref name="stream"/> overlapping its last
    /// <paramref name="tailBytes"/> stored bytes, by execution and start offset: one statement per few hundred ids.
    /// </summary>
    Task<IReadOnlyList<(string ExecutionId, long Start, byte[] Data)>> ReadOutputTailsAsync(IReadOnlyList<string> executionIds, OutputStream stream, int tailBytes, CancellationToken cancellationToken);

    /// <summary>Writes every mutable column of the execution as given; drops its sealed secrets when <paramref name="dropSecrets"/>.</summary>
    Task UpdateExecutionAsync(ExecutionRecord execution, bool dropSecrets, CancellationToken cancellationToken);

    /// <summary>Pending and Running executions of a machine with what they run, oldest first.</summary>
    Task<IReadOnlyList<PendingWork>> ListUnfinishedExecutionsAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a chunk of output that starts at <paramref name="start"/>, the stream's length; the caller records the new
    /// length in the same transaction (no read returns bytes past the length it sees).
    /// </summary>
    Task InsertOutputAsync(string executionId, OutputStream stream, long start, byte[] data, CancellationToken cancellationToken);

    /// <summary>Chunks of a stream overlapping [<paramref name="from"/>, <paramref name="to"/>), by start offset, up to the stream's length.</summary>
    Task<IReadOnlyList<(long Start, byte[] Data)>> ReadOutputAsync(string executionId, OutputStream stream, long from, long to, CancellationToken cancellationToken);

    Task InsertOperationAsync(OperationRecord operation, CancellationToken cancellationToken);

    Task CompleteOperationAsync(string operationId, DateTimeOffset completed, CancellationToken cancellationToken);

    Task<OperationRecord?> GetOperationAsync(string operationId, CancellationToken cancellationToken);

    // ---- retention (RetentionStore decides what goes; these only find and remove rows)

    /// <summary>Every execution recorded for the run command's resource id (case-insensitive), oldest first.</summary>
    Task<IReadOnlyList<ExecutionRecord>> ListExecutionsOfCommandAsync(RunCommandKey command, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="take"/> executions that have an end time, ordered by (end time, id): only those ending before
    /// <paramref name="endedBefore"/> when set, only those after <paramref name="after"/> when set (the last one of the
    /// previous page). Each comes with the bytes of output held for it and whether a run command, fleet target or
    /// deployment operation refers to it.
    /// </summary>
    Task<IReadOnlyList<EndedExecution>> ListEndedExecutionsAsync(DateTimeOffset? endedBefore, EndedExecution? after, int take, CancellationToken cancellationToken);

    /// <summary>Bytes of output held for every execution together (the sum of their lengths).</summary>
    Task<long> SumOutputBytesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the output of the execution (both streams) and sets its lengths to 0, which is what it holds from then on
    /// (retention may keep the record of an execution whose output it deleted).
    /// </summary>
    Task DeleteOutputAsync(string executionId, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the execution row. The operations that tracked it stay until retention removes them
    /// (<see cref="DeleteSettledOperationsBeforeAsync"/>), so a client still polling one gets an answer, not a 404.
    /// </summary>
    Task DeleteExecutionAsync(string executionId, CancellationToken cancellationToken);

    /// <summary>
    /// Removes operations created before <paramref name="before"/> that track nothing left: their execution is gone,
    /// or they are a finished delete; returns how many.
    /// </summary>
    Task<int> DeleteSettledOperationsBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken);

    /// <summary>Records that the machine's agent must delete its local files of the execution (nothing when recorded already).</summary>
    Task InsertForgottenExecutionAsync(VmKey vm, string executionId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Execution ids the machine's agent must still forget, oldest first.</summary>
    Task<IReadOnlyList<string>> ListForgottenExecutionsAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>Removes one id from the machine's list to forget; false when it was not there.</summary>
    Task<bool> DeleteForgottenExecutionAsync(VmKey vm, string executionId, CancellationToken cancellationToken);

    /// <summary>Removes ids recorded before <paramref name="before"/> (agents that never came back to forget them); returns how many.</summary>
    Task<int> DeleteForgottenExecutionsBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken);

    /// <summary>Run commands (not being deleted) by the state of their current execution, one row per state present.</summary>
    Task<IReadOnlyList<(ExecutionState State, long Count)>> CountRunCommandsByStateAsync(CancellationToken cancellationToken);
}
