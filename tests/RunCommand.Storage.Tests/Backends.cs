using Microsoft.Data.Sqlite;
using Npgsql;
using RunCommand.Storage.Postgres;
using RunCommand.Storage.Sqlite;
using RunCommand.Testing;

namespace RunCommand.Storage.Tests;

/// <summary>
/// Makes empty databases of one backend for the contract tests: each test gets its own, so no test sees another's
/// rows. <see cref="OpenAsync"/> may be called more than once per test to get a second node on the same database.
/// </summary>
public interface IBackendFactory : IAsyncDisposable
{
    /// <summary>A backend on this test's database (not migrated).</summary>
    Task<IStorageBackend> OpenAsync(IChangeFeed changes);

    /// <summary>Runs SQL on this test's database outside the stores (to check what the schema itself refuses).</summary>
    Task ExecuteSqlAsync(string sql);

    /// <summary>The first column of the first row of a query on this test's database, outside the stores.</summary>
    Task<object?> ScalarAsync(string sql);

    /// <summary>
    /// How the database would run <paramref name="sql"/>, one line per step, and whether a step reads a whole table
    /// (SQLite's <c>SCAN</c> without an index; on PostgreSQL a <c>Seq Scan</c> or no index condition at all, asked with
    /// sequential scans discouraged so that a small test table does not make one the cheaper plan).
    /// </summary>
    Task<(string Plan, bool ReadsWholeTable)> ExplainAsync(string sql);

    /// <summary>
    /// Bytes the database holds on disk for output, once the space of deleted rows has been given back the backend's
    /// way: SQLite the whole file and its WAL after <paramref name="storage"/>'s compaction; PostgreSQL the output table
    /// (with its TOAST data) after a VACUUM, which is what autovacuum runs.
    /// </summary>
    Task<long> StoredBytesAsync(RunCommandStorage storage);
}

/// <summary>A SQLite file in a temporary directory.</summary>
public sealed class SqliteBackends : IBackendFactory
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-store-").FullName;

    public string DatabaseFile => Path.Combine(_dir, "runcommand.db");

    public Task<IStorageBackend> OpenAsync(IChangeFeed changes) => Task.FromResult<IStorageBackend>(new SqliteBackend(DatabaseFile, changes));

    public async Task ExecuteSqlAsync(string sql)
    {
        await using var command = await CommandAsync(sql);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<object?> ScalarAsync(string sql)
    {
        await using var command = await CommandAsync(sql);
        return await command.ExecuteScalarAsync();
    }

    public async Task<(string Plan, bool ReadsWholeTable)> ExplainAsync(string sql)
    {
        await using var command = await CommandAsync("EXPLAIN QUERY PLAN " + sql);
        await using var reader = await command.ExecuteReaderAsync();
        var steps = new List<string>();
        while (await reader.ReadAsync())
        {
            steps.Add(reader.GetString(reader.GetOrdinal("detail")));
        }

        return (string.Join('\n', steps), steps.Any(step => step.StartsWith("SCAN ", StringComparison.Ordinal) && !step.Contains(" INDEX ", StringComparison.Ordinal)));
    }

    private async Task<SqliteCommand> CommandAsync(string sql)
    {
        var connection = new SqliteConnection($"Data Source={DatabaseFile}");
        await connection.OpenAsync();
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Disposed += (_, _) => connection.Dispose();
        return command;
    }

    public async Task<long> StoredBytesAsync(RunCommandStorage storage)
    {
        await storage.Retention.CompactAsync(default);
        return SqliteStoreFiles.BytesOnDisk(DatabaseFile);
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A fresh database on the PostgreSQL server of this test run (started by the first test that needs it).</summary>
public sealed class PostgresBackends : IBackendFactory
{
    private string? _connectionString;

    private async Task<string> ConnectionStringAsync() =>
        _connectionString ??= await (await PostgresServer.SharedAsync()).CreateDatabaseAsync("rc_store");

    public async Task<IStorageBackend> OpenAsync(IChangeFeed changes) => new PostgresBackend(await ConnectionStringAsync(), changes);

    public async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(await ConnectionStringAsync());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(await ConnectionStringAsync());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public async Task<(string Plan, bool ReadsWholeTable)> ExplainAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(await ConnectionStringAsync());
        await connection.OpenAsync();
        await using (var discourage = new NpgsqlCommand("SET enable_seqscan = off", connection))
        {
            await discourage.ExecuteNonQueryAsync();
        }

        await using var command = new NpgsqlCommand("EXPLAIN " + sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var steps = new List<string>();
        while (await reader.ReadAsync())
        {
            steps.Add(reader.GetString(0));
        }

        // A scan of a whole index, filtered row by row, reads the whole table too: only a step with an index condition finds rows.
        return (string.Join('\n', steps), steps.Any(step => step.Contains("Seq Scan", StringComparison.Ordinal)) || !steps.Any(step => step.Contains("Index Cond", StringComparison.Ordinal)));
    }

    public async Task<long> StoredBytesAsync(RunCommandStorage storage)
    {
        await storage.Retention.CompactAsync(default);
        await ExecuteSqlAsync("VACUUM output");
        return Convert.ToInt64(await ScalarAsync("SELECT pg_total_relation_size('output')"), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connectionString is not null)
        {
            await (await PostgresServer.SharedAsync()).DropDatabaseAsync(_connectionString);
        }
    }
}
