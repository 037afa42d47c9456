namespace RunCommand.Storage;

/// <summary>What the agent protocol needs: the goal state an agent leases and the reports it sends back.</summary>
public interface IAgentWorkStore
{
    /// <summary>
    /// The VM's goal-state version and every execution the server does not hold as finished, oldest first;
    /// marks them delivered.
    /// </summary>
    Task<(long Version, IReadOnlyList<PendingWork> Work)> LeaseGoalStateAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>The VM's current goal-state version (cheap; used to decide whether a poll must wait).</summary>
    Task<long> GetGoalStateVersionAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>
    /// Records an agent's report: appends output past what is held (idempotent), moves the state forward (never
    /// back out of a terminal state) and, when the execution has ended, completes a pending delete.
    /// Returns null when the execution does not exist or is not this VM's.
    /// </summary>
    Task<ReportOutcome?> RecordReportAsync(VmKey vm, ReportWrite report, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Executions whose run command was deleted: the agent deletes its local files of them, then acknowledges each.</summary>
    Task<IReadOnlyList<string>> ListForgottenExecutionsAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>The agent has deleted its files of the execution; false when it was not on the machine's list.</summary>
    Task<bool> AcknowledgeForgottenAsync(VmKey vm, string executionId, CancellationToken cancellationToken);

    /// <summary>
    /// Appends a run of one stream's output uploaded raw: <paramref name="pieces"/> are contiguous from
    /// <paramref name="offset"/> and are kept as one row each, in one transaction. Bytes already held are skipped (a
    /// retried upload is not doubled); a run starting past the end of what is held is refused whole
    /// (<see cref="ReportOutcome.Gap"/>). Returns null when the execution does not exist or is not this VM's.
    /// </summary>
    Task<ReportOutcome?> AppendOutputAsync(VmKey vm, string executionId, OutputStream stream, long offset, IReadOnlyList<byte[]> pieces, CancellationToken cancellationToken);
}
