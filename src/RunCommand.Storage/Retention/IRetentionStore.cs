namespace RunCommand.Storage;

/// <summary>Keeps the database from filling its disk: the retention pass's verbs (docs/storage.md, "Retention").</summary>
public interface IRetentionStore
{
    /// <summary>
    /// Removes the output of finished executions that ended before <paramref name="now"/> minus the policy's age, and
    /// the executions themselves when no run command, fleet target or deployment operation refers to them; then, while
    /// the output still held is over the budget, the output of the finished executions that ended first. Pending and
    /// Running executions are never touched. Works in batches, one transaction each, so writers are not held up long.
    /// </summary>
    Task<PruneOutcome> PruneAsync(RetentionPolicy policy, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Gives space freed by deletes back to the file system where the backend can (SQLite: the file shrinks).</summary>
    Task CompactAsync(CancellationToken cancellationToken);
}
