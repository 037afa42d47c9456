namespace RunCommand.Storage;

/// <summary>
/// What a database must offer RunCommand: atomic units of row reads and writes, versioned migrations, and a
/// readiness check. Everything else (which state may follow which, when a delete is complete, limits, token checks)
/// lives above it in the stores (<see cref="RunCommandStorage"/>), written once for every backend.
/// </summary>
public interface IStorageBackend : IAsyncDisposable
{
    /// <summary>Short name for logs and errors ("sqlite", "postgres").</summary>
    string Name { get; }

    /// <summary>
    /// Brings the schema to the latest version this build knows, under a lock shared by every node: a node starting
    /// at the same moment waits and then finds nothing left to apply. Applies each numbered script at most once.
    /// </summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Whether the database answers and holds the schema version this build needs.</summary>
    Task<StorageReadiness> CheckReadinessAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> as one transaction: every row it writes is committed together when it returns,
    /// none when it throws. The topics it notifies are published after the commit (or, for a multi-node backend,
    /// relayed to every node by the commit itself). <paramref name="work"/> may run more than once when the database
    /// asks to retry (a serialization conflict), so it must not have effects outside the rows.
    /// </summary>
    Task<T> WriteAsync<T>(Func<IRows, Task<T>> work, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> as <see cref="WriteAsync{T}"/> does, for a unit that changes only the rows of
    /// <paramref name="command"/> (its row, its executions and operations, its VM's row) and appends to the activity log,
    /// reading the command first with <see cref="IRunCommandRows.ReadForPutAsync"/>. A backend may commit such units in
    /// parallel with other writes, each with the rows it reads locked until it commits (PostgreSQL; docs/storage.md,
    /// "Run-command lanes"); the guarantees are those of <see cref="WriteAsync{T}"/>.
    /// </summary>
    Task<T> WriteRunCommandAsync<T>(RunCommandKey command, Func<IRows, Task<T>> work, CancellationToken cancellationToken);

    /// <summary>
    /// Gives the space freed by deleted rows back to the file system where the database lets a client do it (SQLite:
    /// incremental vacuum, then a truncating WAL checkpoint); nothing where the server does it alone (PostgreSQL's autovacuum).
    /// </summary>
    Task CompactAsync(CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="work"/> on one consistent snapshot; it must only read.</summary>
    Task<T> ReadAsync<T>(Func<IRows, Task<T>> work, CancellationToken cancellationToken);
}

/// <summary>
/// Every row operation of one transaction. Each member moves rows and nothing more: it applies no rule
/// (no state check, no limit); the stores decide, the rows obey.
/// </summary>
public interface IRows : IMachineRows, IRunCommandRows, ICommandDocumentRows, IDeploymentRows, IFleetRows, IIdentityRows, IActivityLogRows, ILeaseRows
{
    /// <summary>Wakes whoever waits on <paramref name="topic"/> once this transaction has committed (nothing when it rolls back).</summary>
    void Notify(string topic);
}

/// <summary>The answer of <see cref="IStorageBackend.CheckReadinessAsync"/>; <see cref="Reason"/> says why not ready.</summary>
public sealed record StorageReadiness(bool Ready, int SchemaVersion, int RequiredSchemaVersion, string? Reason)
{
    public static StorageReadiness NotReachable(int required, string reason) => new(false, 0, required, reason);
}
