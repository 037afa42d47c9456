namespace RunCommand.Storage;

/// <summary>What the agent protocol needs: the goal state an agent leases and the reports it sends back.</summary>
public interface IAgentWorkStore
{
    /// <summary>
    /// The VM's goal-state version and every execution the server does not hold as finished, oldest first;
    /// marks them delivered.
    /// </summary>
    Task<(long Version, IReadOnlyList<PendingWork> Work)> LeaseGoalStateAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>
    /// An agent's goal-state answer read on one snapshot: the version, every execution the server does not hold as
    /// finished (oldest first) and the forget list, and whether the machine still holds the credential the agent
    /// presented (<paramref name="presented"/>: its public key, or its token's hash). Null when it does not (revoked, or
    /// enrolled again with another credential, possibly through another node): such an agent gets no work. Marks nothing.
    /// </summary>
    Task<GoalStateAnswer?> ReadGoalStateAsync(VmKey vm, AgentCredential presented, CancellationToken cancellationToken);

    /// <summary>
    /// Hands over an answer of <see cref="ReadGoalStateAsync"/>: when all its work was delivered already, the answer as
    /// it is (nothing read or written); else one write transaction reads it again, credential check included, and marks
    /// its Pending executions delivered. Null when the machine no longer holds <paramref name="presented"/>.
    /// </summary>
    Task<GoalStateAnswer?> DeliverGoalStateAsync(VmKey vm, AgentCredential presented, GoalStateAnswer read, CancellationToken cancellationToken);

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
