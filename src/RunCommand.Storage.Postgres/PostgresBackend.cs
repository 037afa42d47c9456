using System.Data;
using System.Data.Common;
using Npgsql;
using RunCommand.Storage.Relational;

namespace RunCommand.Storage.Postgres;

/// <summary>
/// The backend for several server nodes on one PostgreSQL database. Every write is one SERIALIZABLE transaction:
/// two nodes changing the same rows cannot both act on what they read (one is retried on fresh rows); reads see one
/// snapshot. Run-command PUTs are the exception: READ COMMITTED on lanes of their own, with every row they read locked
/// before they read it, which makes them just as safe against each other and against the SERIALIZABLE writes.
/// Migrations run under <c>pg_advisory_xact_lock</c>, so nodes starting together migrate once.
/// </summary>
public sealed class PostgresBackend : SqlBackend
{
    /// <summary>The advisory lock every RunCommand node takes to migrate ("RunCmd" in ASCII).</summary>
    public const long MigrationLockKey = 0x52756e436d64;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _connectionString;

    /// <param name="connectionString">An Npgsql connection string; it is never logged nor put into an error message.</param>
    public PostgresBackend(string connectionString, IChangeFeed changes)
        : base(changes, new PostgresDialect(), Migration.FromResources(typeof(PostgresBackend).Assembly))
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString) { Name = "runcommand" };
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 128;
        }

        // Npgsql resets a pooled connection's session state before its next use with seven statements (RESET ALL,
        // CLOSE ALL, UNLISTEN *, ...): one more parse and run per transaction. The backend leaves no session state behind
        // (no SET, no LISTEN or cursor on a pooled connection: the listener has its own; its advisory lock is
        // transaction-scoped), so there is nothing to reset, unless the connection string asks for it.
        if (!HasSetting(connectionString, "No Reset On Close") && !HasSetting(connectionString, "NoResetOnClose"))
        {
            builder.ConnectionStringBuilder.NoResetOnClose = true;
        }

        _dataSource = builder.Build();
        _connectionString = connectionString;
    }

    private static bool HasSetting(string connectionString, string key) =>
        new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.ContainsKey(key);

    /// <summary>This process among the nodes: prefixes its notifications, so its listener skips its own.</summary>
    public string NodeTag { get; } = Guid.NewGuid().ToString("N")[..12];

    /// <summary>The listener that brings other nodes' changes to this node's waiters; run it for the node's lifetime.</summary>
    public PostgresChangeListener CreateListener(Microsoft.Extensions.Logging.ILogger logger) => new(_connectionString, NodeTag, Changes, logger);

    /// <summary>
    /// Sends every topic the transaction notified to the other nodes: <c>NOTIFY</c> inside the transaction is delivered
    /// by its commit, exactly when the rows are visible, and never when it rolls back.
    /// </summary>
    protected override async Task BeforeCommitAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<string> topics, CancellationToken cancellationToken)
    {
        if (topics.Count == 0)
        {
            return;
        }

        // One round trip for every topic of the batch.
        await SqlRows.ExecuteAsync(connection, transaction, "SELECT pg_notify(@channel, payload) FROM unnest(@payloads) AS payload", cancellationToken,
            ("@channel", PostgresChangeListener.Channel), ("@payloads", topics.Select(topic => NodeTag + "|" + topic).ToArray()));
    }

    /// <summary>
    /// One batch commits at a time on a node, as on SQLite: batches of one node then never conflict with each other under
    /// SERIALIZABLE (other nodes' still can, and are retried). Measured (docs/performance.md, item 10): 4 parallel
    /// writers committed fewer PUTs per second than 1 and their whole-batch retries pushed p99 past 2 s.
    /// </summary>
    protected override int ConcurrentWriters => 1;

    /// <summary>
    /// Run-command PUTs commit on lanes of their own, in parallel with the shared writer and with each other, at READ
    /// COMMITTED with their rows locked first (docs/storage.md, "Run-command lanes"): under SERIALIZABLE two batches
    /// creating commands on different VMs fail each other through SSI's page-granular predicate locks (item 25 of
    /// docs/performance.md). One lane per core, at least 2 and at most 8.
    /// </summary>
    protected override int RunCommandLanes => Math.Clamp(Environment.ProcessorCount, 2, 8);

    protected override async Task<DbTransaction> BeginRowLockedWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);

    public override string Name => "postgres";

    protected override string SchemaVersionExistsSql =>
        "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_version'";

    protected override async Task<SqlSession> OpenAsync(CancellationToken cancellationToken) =>
        new(await _dataSource.OpenConnectionAsync(cancellationToken));

    protected override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.Serializable, cancellationToken);

    protected override async Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);

    /// <summary>
    /// READ COMMITTED, so that once this node holds the lock it sees the versions a node that held it before committed;
    /// the transaction-scoped advisory lock is released by the commit (or by the connection dying).
    /// </summary>
    protected override async Task<DbTransaction> BeginMigrationAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
        await SqlRows.ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@key)", cancellationToken, ("@key", MigrationLockKey));
        return transaction;
    }

    /// <summary>Serialization failures and deadlocks: the transaction did nothing and may run again.</summary>
    protected override bool IsStorageFull(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.DiskFull };

    protected override bool IsTransient(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected };

    public override async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await base.DisposeAsync();
    }

    private sealed class PostgresDialect : SqlDialect
    {
        // The VM's row first, then the command's and its execution's: every lane's unit takes them in this order, so
        // PUTs only ever wait for each other. Each statement of READ COMMITTED reads the rows committed when it starts,
        // so the unit's read that follows sees what the last holder of these locks wrote.
        public override IReadOnlyList<string> LockRunCommandStatements { get; } =
        [
            "SELECT FROM vms WHERE key = @vm FOR UPDATE",
            "SELECT FROM executions WHERE id = (SELECT execution_id FROM run_commands WHERE key = @key FOR UPDATE) FOR UPDATE",
        ];

        // timestamptz holds microseconds; Npgsql takes a DateTimeOffset only in UTC.
        public override object ToTimeValue(DateTimeOffset value) => StorageFormat.StoredTime(value);

        /// <summary>
        /// Npgsql (10.0) does not name the refused statement of a batch run without a reader (<c>BatchCommand</c> stays
        /// null), but it records each statement's completion: the first one still of an unknown type is the refused one
        /// (the server skips every statement after an error until the batch's end).
        /// </summary>
        public override int FailedStatement(DbBatch batch, DbException error)
        {
            var named = base.FailedStatement(batch, error);
            if (named >= 0 || error is not PostgresException)
            {
                return named;
            }

            var commands = ((NpgsqlBatch)batch).BatchCommands;
            for (var i = 0; i < commands.Count; i++)
            {
                if (commands[i].StatementType == Npgsql.StatementType.Unknown)
                {
                    return i;
                }
            }

            return -1;
        }
    }
}
