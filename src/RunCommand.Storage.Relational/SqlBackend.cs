using System.Data.Common;

namespace RunCommand.Storage.Relational;

/// <summary>
/// The transaction runner every SQL backend shares: opens a connection, begins the backend's kind of transaction,
/// hands the work a <see cref="SqlRows"/>, commits, then publishes the topics the work notified. Retries the whole
/// unit when the database reports a serialization conflict. Concurrent writes are committed together (group commit,
/// <c>SqlBackend.GroupCommit.cs</c>). Migrations run here too, under the backend's lock.
/// </summary>
public abstract partial class SqlBackend(IChangeFeed changes, SqlDialect dialect, IReadOnlyList<Migration> migrations) : IStorageBackend
{
    // Under contention (many writers on one VM, or SSI's coarse predicate locks on small tables) each round of
    // conflicting transactions lets about one commit, so the budget must outlast a burst of a few dozen writers:
    // 30 attempts with exponential back-off, fully jittered so the losers do not collide again in lock-step,
    // capped at 250 ms a wait (about 6 s in all at worst). Past it the conflict surfaces as StorageBusyException.
    private const int MaxAttempts = 30;
    private static readonly TimeSpan FirstBackOff = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan MaxBackOff = TimeSpan.FromMilliseconds(250);

    public abstract string Name { get; }

    /// <summary>The numbered scripts this build applies; the last one's number is the version it needs.</summary>
    public IReadOnlyList<Migration> Migrations { get; } = migrations;

    public int RequiredSchemaVersion => Migrations.Count;

    protected IChangeFeed Changes { get; } = changes;

    /// <summary>Where output bytes go when not in the <c>output</c> table (<see cref="IOutputFiles"/>); null keeps them in it.</summary>
    protected virtual IOutputFiles? OutputFiles => null;

    /// <summary>A connection for one unit of work; disposing the session ends the unit's use of it.</summary>
    protected abstract Task<SqlSession> OpenAsync(CancellationToken cancellationToken);

    /// <summary>The connection a batch of writes commits on (at most <see cref="ConcurrentWriters"/> at once); by default any.</summary>
    protected virtual Task<SqlSession> OpenWriterAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    /// <summary>A transaction in which reads and writes are atomic and isolated from other writers (other nodes too).</summary>
    protected abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>A transaction that reads one consistent snapshot.</summary>
    protected abstract Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>
    /// Begins the migration transaction and takes the lock every node takes before migrating; returns once this node
    /// holds it. Statements after it must see what a node that held the lock before committed.
    /// </summary>
    protected abstract Task<DbTransaction> BeginMigrationAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>True when a write failed because the database's disk (or quota) is full; it surfaces as <see cref="StorageFullException"/>.</summary>
    protected virtual bool IsStorageFull(Exception exception) => false;

    /// <summary>True when the database asks to run the transaction again (serialization failure, deadlock, busy).</summary>
    protected virtual bool IsTransient(Exception exception) => false;

    /// <summary>
    /// Called inside the write transaction just before it commits, with the topics it notified: where a multi-node
    /// backend relays them (PostgreSQL: <c>NOTIFY</c>, delivered by the commit). The in-process publish follows the commit either way.
    /// </summary>
    protected virtual Task BeforeCommitAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<string> topics, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>Called inside the migration transaction before the versions are read: adopts a database made before versioned migrations.</summary>
    protected virtual Task AdoptUnversionedSchemaAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public async Task<T> ReadAsync<T>(Func<IRows, Task<T>> work, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var session = await OpenAsync(cancellationToken);
                try
                {
                    await using var transaction = await BeginReadAsync(session.Connection, cancellationToken);
                    var rows = new SqlRows(session, transaction, dialect, OutputFiles);
                    var result = await work(rows);
                    await rows.FlushAsync(cancellationToken);
                    await transaction.CommitAsync(CancellationToken.None);
                    return result;
                }
                catch
                {
                    session.MarkBroken();
                    throw;
                }
            }
            catch (Exception e) when (IsTransient(e))
            {
                await BackOffAsync(attempt, e, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Waits before attempt <paramref name="attempt"/> + 1 (full jitter over an exponentially growing, capped window),
    /// or gives up with <see cref="StorageBusyException"/> once the budget is spent.
    /// </summary>
    private static Task BackOffAsync(int attempt, Exception conflict, CancellationToken cancellationToken)
    {
        if (attempt >= MaxAttempts)
        {
            throw new StorageBusyException(conflict);
        }

        var window = Math.Min(MaxBackOff.TotalMilliseconds, FirstBackOff.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * window), cancellationToken);
    }

    /// <summary>Nothing by default: the database server reclaims space itself (PostgreSQL: autovacuum makes it reusable).</summary>
    public virtual Task CompactAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public virtual async Task MigrateAsync(CancellationToken cancellationToken)
    {
        // Used once at start, then closed whatever happened: never lent again in the state a failed script may leave.
        await using var session = await OpenAsync(cancellationToken);
        session.MarkBroken();
        var connection = session.Connection;
        await using var transaction = await BeginMigrationAsync(connection, cancellationToken);
        var versioned = await SqlRows.ScalarAsync(connection, transaction, SchemaVersionExistsSql, cancellationToken) is not null;
        if (!versioned)
        {
            await AdoptUnversionedSchemaAsync(connection, transaction, cancellationToken);
            await SqlRows.ExecuteAsync(connection, transaction,
                "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)", cancellationToken);
        }

        var applied = Convert.ToInt32(await SqlRows.ScalarAsync(connection, transaction, "SELECT coalesce(max(version), 0) FROM schema_version", cancellationToken),
            System.Globalization.CultureInfo.InvariantCulture);
        if (applied > RequiredSchemaVersion)
        {
            throw new InvalidOperationException(
                $"The {Name} database is at schema version {applied}, newer than this build knows ({RequiredSchemaVersion}). Run the newer RunCommand release.");
        }

        foreach (var migration in Migrations.Where(m => m.Version > applied))
        {
            await SqlRows.ExecuteAsync(connection, transaction, migration.Sql, cancellationToken);
            await SqlRows.ExecuteAsync(connection, transaction, "INSERT INTO schema_version(version, name, applied) VALUES(@v, @n, @t)", cancellationToken,
                ("@v", migration.Version), ("@n", migration.Name), ("@t", StorageFormat.Timestamp(DateTimeOffset.UtcNow)));
        }

        // Checkpoint: every script and its version row commit together; a crash midway leaves the previous version.
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>SQL answering a row when the <c>schema_version</c> table exists.</summary>
    protected abstract string SchemaVersionExistsSql { get; }

    public async Task<StorageReadiness> CheckReadinessAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var session = await OpenAsync(cancellationToken);
            var connection = session.Connection;
            if (await SqlRows.ScalarAsync(connection, null, SchemaVersionExistsSql, cancellationToken) is null)
            {
                return new StorageReadiness(false, 0, RequiredSchemaVersion, "The schema has not been created yet.");
            }

            var version = Convert.ToInt32(await SqlRows.ScalarAsync(connection, null, "SELECT coalesce(max(version), 0) FROM schema_version", cancellationToken),
                System.Globalization.CultureInfo.InvariantCulture);
            return version == RequiredSchemaVersion
                ? new StorageReadiness(true, version, RequiredSchemaVersion, null)
                : new StorageReadiness(false, version, RequiredSchemaVersion, $"The schema is at version {version}; this build needs {RequiredSchemaVersion}.");
        }
        catch (Exception e) when (e is DbException or IOException or TimeoutException or InvalidOperationException)
        {
            return StorageReadiness.NotReachable(RequiredSchemaVersion, $"The {Name} database cannot be reached: {e.Message}");
        }
    }

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
