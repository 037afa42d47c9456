using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using RunCommand.Storage.Relational;

namespace RunCommand.Storage.Sqlite;

/// <summary>
/// The embedded backend: one SQLite file in WAL mode. A committed transaction survives a kill -9 of the server
/// (the WAL is written before the commit returns); with <c>fullSync</c> each commit is also fsynced, so it
/// survives a power cut, at the price of one disk flush per write. Writers are serialized in process and take
/// SQLite's write lock at BEGIN (IMMEDIATE), so a second process on the same file waits rather than failing
/// midway; readers run in parallel on their own connections. The file is created mode 0600. Connections stay open and
/// keep their statements prepared (<see cref="SqliteSessionPool"/>). Output bytes live in files beside it
/// (<see cref="OutputFileDirectory"/>).
/// </summary>
public sealed class SqliteBackend : SqlBackend
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// How much of the database file a connection reads through a memory map (SQLite writes with write() still). A read
    /// transaction that starts after another connection's commit drops its page cache, so each read unit fetched its
    /// pages again with pread, copying each; mapped, they are read in place. docs/performance.md item 24.
    /// </summary>
    public const long MmapSize = 256L * 1024 * 1024;

    private readonly string _databasePath;
    private readonly string _connectionString;
    private readonly string _pragmas;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SqliteSessionPool _sessions;
    private readonly SqliteCheckpointer _checkpointer;
    private readonly OutputFileDirectory _outputFiles;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _droppedOutputRemover;

    public SqliteBackend(string databasePath, IChangeFeed changes, bool fullSync = false, TimeSpan? checkpointDelay = null)
        : base(changes, new SqliteDialect(), Migration.FromResources(typeof(SqliteBackend).Assembly))
    {
        _databasePath = databasePath;
        // Checkpoints run beside the writers (SqliteCheckpointer); a commit checkpoints itself only past the backstop.
        _pragmas = $"PRAGMA synchronous={(fullSync ? "FULL" : "NORMAL")}; PRAGMA busy_timeout=10000; PRAGMA mmap_size={MmapSize}; "
            + $"PRAGMA wal_autocheckpoint={SqliteCheckpointer.BackstopPages}; PRAGMA journal_size_limit={SqliteCheckpointer.WalSizeLimitBytes};";
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,

            // The backend keeps its own connections (SqliteSessionPool): one closed by it is really closed.
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();
        _sessions = new SqliteSessionPool(ConnectAsync);
        _checkpointer = new SqliteCheckpointer(databasePath, ConnectAsync, checkpointDelay);
        _outputFiles = new OutputFileDirectory(OutputFileDirectory.DirectoryOf(databasePath), fullSync);
        _droppedOutputRemover = RemoveDroppedOutputLoopAsync(_stopping.Token);
    }

    protected override IOutputFiles OutputFiles => _outputFiles;

    /// <summary>Where output bytes are kept; for tests.</summary>
    internal OutputFileDirectory Output => _outputFiles;

    /// <summary>The connections this backend keeps; for tests.</summary>
    internal SqliteSessionPool Sessions => _sessions;

    /// <summary>The WAL's checkpointer; for tests.</summary>
    internal SqliteCheckpointer Checkpointer => _checkpointer;

    public override string Name => "sqlite";

    protected override string SchemaVersionExistsSql => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'";

    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        RestrictFileModes();
        await using (var connection = await ConnectAsync(cancellationToken))
        {
            await UseIncrementalVacuumAsync(connection, cancellationToken);

            // Outside any transaction: the journal mode is a property of the file, set once and kept.
            await SqlRows.ExecuteAsync(connection, null, "PRAGMA journal_mode=WAL;", cancellationToken);
        }

        RestrictFileModes();
        await base.MigrateAsync(cancellationToken);
        await MoveOutputRowsToFilesAsync(cancellationToken);
        await RemoveDroppedOutputAsync(cancellationToken);
    }

    /// <summary>
    /// A database from before output files (schema 8) holds output as rows: they are written to their files, the files
    /// flushed to disk, then the rows deleted in one transaction. A crash before that commit leaves the rows, and the next
    /// start writes the same bytes to the same places again.
    /// </summary>
    private async Task MoveOutputRowsToFilesAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await ConnectAsync(cancellationToken);
            if (await SqlRows.ScalarAsync(connection, null, "SELECT 1 FROM output LIMIT 1", cancellationToken) is null)
            {
                return;
            }

            var written = new HashSet<(string, OutputStream)>();
            await using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT execution_id, stream, start_offset, data FROM output";
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var file = (reader.GetString(0), (OutputStream)reader.GetInt32(1));
                    _outputFiles.Write(file.Item1, file.Item2, reader.GetInt64(2), (byte[])reader.GetValue(3));
                    written.Add(file);
                }
            }

            foreach (var (executionId, stream) in written)
            {
                _outputFiles.FlushToDisk(executionId, stream);
            }

            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await SqlRows.ExecuteAsync(connection, transaction, "DELETE FROM output", cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception e) when (OutputFileDirectory.IsFull(e))
        {
            throw new StorageFullException(e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Deletes the files of every drop that committed (<c>output_dropped</c>), then forgets the drops. A crash in between
    /// leaves names whose files are gone already: deleting them again is no error.
    /// </summary>
    private async Task RemoveDroppedOutputAsync(CancellationToken cancellationToken)
    {
        const int Page = 256;
        await using var connection = await ConnectAsync(cancellationToken);
        while (true)
        {
            var dropped = new List<string>();
            await using (var command = connection.CreateCommand())
            {
                command.CommandText = $"SELECT execution_id FROM output_dropped LIMIT {Page}";
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    dropped.Add(reader.GetString(0));
                }
            }

            foreach (var executionId in dropped)
            {
                _outputFiles.Delete(executionId);
            }

            if (dropped.Count > 0)
            {
                await _writeLock.WaitAsync(cancellationToken);
                try
                {
                    await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                    foreach (var executionId in dropped)
                    {
                        await SqlRows.ExecuteAsync(connection, transaction, "DELETE FROM output_dropped WHERE execution_id = @id", cancellationToken, ("@id", executionId));
                    }

                    await transaction.CommitAsync(cancellationToken);
                }
                finally
                {
                    _writeLock.Release();
                }
            }

            if (dropped.Count < Page)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Removes dropped output each time a commit notifies a drop (<see cref="SqlRows.OutputDroppedTopic"/>); what a pass
    /// cannot finish (a full disk, a database not migrated yet) stays named and waits for the next drop or the next start.
    /// </summary>
    private async Task RemoveDroppedOutputLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Changes.NextChangeAsync(SqlRows.OutputDroppedTopic).WaitAsync(cancellationToken);
                await RemoveDroppedOutputAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
            {
                // Named still; tried again at the next drop.
            }
        }
    }

    /// <summary>
    /// Retention gives space back with <c>PRAGMA incremental_vacuum</c> (<see cref="CompactAsync"/>), which needs
    /// <c>auto_vacuum=INCREMENTAL</c>. A new file takes it before its first table; a file made before it (auto_vacuum
    /// NONE) only changes mode through a whole VACUUM, which cannot run inside the migration's transaction: it runs
    /// here, once, before the migration (as long as copying the file takes; it needs as much free space again).
    /// </summary>
    private async Task UseIncrementalVacuumAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        const long Incremental = 2;
        if (Convert.ToInt64(await SqlRows.ScalarAsync(connection, null, "PRAGMA auto_vacuum", cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == Incremental)
        {
            return;
        }

        await SqlRows.ExecuteAsync(connection, null, "PRAGMA auto_vacuum=INCREMENTAL;", cancellationToken);
        var hasTables = await SqlRows.ScalarAsync(connection, null, "SELECT 1 FROM sqlite_master LIMIT 1", cancellationToken) is not null;
        if (hasTables)
        {
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await SqlRows.ExecuteAsync(connection, null, "VACUUM;", cancellationToken);
            }
            finally
            {
                _writeLock.Release();
            }
        }
    }

    /// <summary>
    /// Deletes the files of dropped output, moves free pages to the end of the file and cuts them off
    /// (<c>incremental_vacuum</c>), then checkpoints the WAL with TRUNCATE: the main file shrinks and the WAL file is emptied. Queued with the writers, so it never waits on one.
    /// </summary>
    public override async Task CompactAsync(CancellationToken cancellationToken)
    {
        // Output dropped is removed as its drops commit; a pass that could not finish is finished here.
        await RemoveDroppedOutputAsync(cancellationToken);
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await ConnectAsync(cancellationToken);
            await SqlRows.ExecuteAsync(connection, null, "PRAGMA incremental_vacuum;", cancellationToken);
            await _checkpointer.ExcludingPassesAsync(() => SqlRows.ExecuteAsync(connection, null, "PRAGMA wal_checkpoint(TRUNCATE);", cancellationToken), cancellationToken);
        }
        catch (SqliteException e) when (IsStorageFull(e))
        {
            throw new StorageFullException(e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// The database and its WAL files hold sealed secrets and token hashes: only the server's user may read them.
    /// A new file is created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the same mode);
    /// an existing one made looser (by an older release or by hand) is tightened.
    /// </summary>
    private void RestrictFileModes()
    {
        // OpenOrCreate: another node migrating at the same moment may create the file between a check and a CreateNew.
        using (new FileStream(_databasePath, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = OwnerOnly }))
        {
        }

        foreach (var path in new[] { _databasePath, _databasePath + "-wal", _databasePath + "-shm" })
        {
            if (File.Exists(path) && (File.GetUnixFileMode(path) & ~OwnerOnly) != 0)
            {
                File.SetUnixFileMode(path, OwnerOnly);
            }
        }

        _outputFiles.Prepare();
    }

    protected override Task<SqlSession> OpenAsync(CancellationToken cancellationToken) => _sessions.RentReaderAsync(cancellationToken);

    protected override Task<SqlSession> OpenWriterAsync(CancellationToken cancellationToken) => _sessions.RentWriterAsync(cancellationToken);

    /// <summary>A new connection, set up once: the pragmas below hold for as long as it stays open.</summary>
    private async Task<SqliteConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await SqlRows.ExecuteAsync(connection, null, _pragmas, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// SQLite has one writer at a time: one batch commits at once (the base class queues the rest in process instead
    /// of spinning on the busy handler), and compaction and migration wait for it on the same lock.
    /// </summary>
    protected override async Task RunExclusiveAsync(Func<Task> commit)
    {
        await _writeLock.WaitAsync();
        try
        {
            if (_checkpointer.WalTooLong)
            {
                // No commit can run meanwhile, so this pass copies every frame and the commit below starts the WAL over.
                await _checkpointer.CatchUpAsync(CancellationToken.None);
            }

            await commit();
        }
        finally
        {
            _writeLock.Release();
            _checkpointer.Committed();
        }
    }

    protected override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    protected override Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(IsolationLevel.Serializable, deferred: true));

    /// <summary>An IMMEDIATE transaction holds SQLite's write lock on the file: a second process waits (busy timeout) until this one commits.</summary>
    protected override Task<DbTransaction> BeginMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        BeginWriteAsync(connection, cancellationToken);

    protected override bool IsTransient(Exception exception) => exception is SqliteException { SqliteErrorCode: 5 or 6 }; // SQLITE_BUSY, SQLITE_LOCKED

    protected override bool IsStorageFull(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 13 } || OutputFileDirectory.IsFull(exception); // SQLITE_FULL, or an output file's write

    /// <summary>
    /// A database made before versioned migrations: adds the columns that release added on the fly when it met an
    /// even older file, so the baseline script (all IF NOT EXISTS) then finds every table complete.
    /// </summary>
    protected override async Task AdoptUnversionedSchemaAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        (string Table, string Column, string Type)[] added =
        [
            ("vms", "scale_set", "TEXT"),
            ("vms", "agent_public_key", "BLOB"),
            ("enrollment_tokens", "scale_set", "TEXT"),
        ];
        foreach (var (table, column, type) in added)
        {
            var tableExists = await SqlRows.ScalarAsync(connection, transaction, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = @t", cancellationToken, ("@t", table)) is not null;
            var columnExists = await SqlRows.ScalarAsync(connection, transaction, $"SELECT 1 FROM pragma_table_info('{table}') WHERE name = @c", cancellationToken, ("@c", column)) is not null;
            if (tableExists && !columnExists)
            {
                await SqlRows.ExecuteAsync(connection, transaction, $"ALTER TABLE {table} ADD COLUMN {column} {type}", cancellationToken);
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _droppedOutputRemover;
        _stopping.Dispose();
        await _checkpointer.DisposeAsync();
        _sessions.Dispose();
        _writeLock.Dispose();
        await base.DisposeAsync();
    }

    private sealed class SqliteDialect : SqlDialect
    {
        // The text format every release has written: fixed width, so text order is time order.
        public override object ToTimeValue(DateTimeOffset value) => StorageFormat.Timestamp(value);
    }
}
