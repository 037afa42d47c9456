namespace RunCommand.Agent.State;

/// <summary>
/// The agent's persistent memory of executions. The file implementation is the crash-safety checkpoint:
/// once <see cref="TryAccept"/> returned true for an id, that execution is never started again, even
/// after a restart.
/// </summary>
public interface IExecutionStateStore
{
    /// <summary>
    /// Records a new execution durably. Returns false (and changes nothing) when the id is already known,
    /// whatever its state.
    /// </summary>
    bool TryAccept(LocalExecutionRecord record);

    /// <summary>Replaces the record of a known execution durably.</summary>
    void Save(LocalExecutionRecord record);

    /// <summary>The record, or null when the id was never accepted.</summary>
    LocalExecutionRecord? Get(string executionId);

    /// <summary>Every known id, including those whose directory exists without a readable record.</summary>
    IReadOnlyList<string> ListIds();
}
