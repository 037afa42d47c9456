using Microsoft.Data.Sqlite;
using RunCommand.Storage.Relational;
using RunCommand.Storage.Sqlite;
using RunCommand.Testing;

namespace RunCommand.Storage.Tests;

/// <summary>
/// The SQLite backend keeps its connections open and their statements prepared (<c>SqliteSessionPool</c>,
/// <c>SqliteSession</c>): what is reused, what is never reused, and that a kept connection still sees other nodes' commits.
/// </summary>
public sealed class SqliteSessionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 19, 0, 0, TimeSpan.Zero);
    private readonly SqliteBackends _file = new();

    private string DatabaseFile => _file.DatabaseFile;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls the latter on a test class.
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _file.DisposeAsync().AsTask();

    private async Task<SqliteBackend> OpenAsync()
    {
        var backend = new SqliteBackend(DatabaseFile, new InProcessChangeFeed());
        await backend.MigrateAsync(default);
        return backend;
    }

    private static AuditRecord Entry(string id) => new()
    {
        Id = id, Time = Now, Action = "test/write", ResourceId = "/x", HttpMethod = "PUT", StatusCode = 200,
    };

    private static Task<List<string>> AuditIdsAsync(SqliteBackend backend) =>
        backend.ReadAsync(async rows => (await rows.ListAuditAsync(new AuditQuery(), default)).Select(e => e.Id).Order(StringComparer.Ordinal).ToList(), default);

    /// <summary>Appends an entry, then waits until the writer's connection is back (the caller is answered just before).</summary>
    private static async Task AppendAsync(SqliteBackend backend, string id)
    {
        await backend.WriteAsync(async rows =>
        {
            await rows.InsertAuditAsync(Entry(id), default);
            return 0;
        }, default);
        await Wait.UntilAsync(() => backend.Sessions.IdleWriter is not null, TimeSpan.FromSeconds(30), "the writer's connection to be given back");
    }

    [Fact]
    public async Task ReadAsync_SameStatementTwice_RunsTheCommandPreparedOnTheKeptConnection()
    {
        await using var backend = await OpenAsync();
        await using (var fresh = await backend.Sessions.RentReaderAsync(default))
        {
            SqliteStatements.Track((SqliteConnection)fresh.Connection);
        }

        await AuditIdsAsync(backend);
        var session = Assert.Single(backend.Sessions.IdleReaders);
        var prepared = session.StatementsPrepared;
        var opened = backend.Sessions.ConnectionsOpened;
        var statement = Assert.Single(SqliteStatements.Prepared((SqliteConnection)session.Connection), s => s.Sql.Contains("FROM audit", StringComparison.Ordinal));

        await AuditIdsAsync(backend);

        Assert.Same(session, Assert.Single(backend.Sessions.IdleReaders));
        Assert.Equal(opened, backend.Sessions.ConnectionsOpened);
        Assert.Equal(prepared, session.StatementsPrepared);

        // SQLite's own count: the same sqlite3_stmt ran twice, it was not prepared again.
        var again = Assert.Single(SqliteStatements.Prepared((SqliteConnection)session.Connection), s => s.Sql.Contains("FROM audit", StringComparison.Ordinal));
        Assert.Equal(statement.Handle, again.Handle);
        Assert.Equal(2, again.Runs);
    }

    [Fact]
    public async Task Connections_ReaderAndWriter_ReadTheFileThroughAMemoryMap()
    {
        await using var backend = await OpenAsync();
        await AppendAsync(backend, "a");
        await AuditIdsAsync(backend);

        // What SQLite answers is the size it applies: 0 if the library were built without memory-mapped I/O.
        foreach (var session in new[] { Assert.Single(backend.Sessions.IdleReaders), backend.Sessions.IdleWriter! })
        {
            Assert.Equal(SqliteBackend.MmapSize, Convert.ToInt64(await SqlRows.ScalarAsync(session.Connection, null, "PRAGMA mmap_size", default), System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task Command_SameStatementWithNewValues_BindsTheNewValues()
    {
        await using var backend = await OpenAsync();
        await using var session = await backend.Sessions.RentReaderAsync(default);

        async Task<object?> EchoAsync(object? value)
        {
            await using var lease = session.Command(null, "SELECT @v", [("@v", value)]);
            return await lease.Command.ExecuteScalarAsync();
        }

        Assert.Equal(1L, await EchoAsync(1));
        Assert.Equal("two", await EchoAsync("two"));
        Assert.Equal(DBNull.Value, await EchoAsync(null));
        Assert.Equal(1, ((SqliteSession)session).StatementsPrepared);
    }

    [Fact]
    public async Task Command_MoreStatementsThanKept_DropsTheLeastRecentlyUsed()
    {
        await using var backend = await OpenAsync();
        await using var rented = await backend.Sessions.RentReaderAsync(default);
        var session = (SqliteSession)rented;
        SqliteStatements.Track((SqliteConnection)session.Connection);
        for (var i = 0; i <= SqliteSession.MaxStatements; i++)
        {
            await using var lease = session.Command(null, $"SELECT {i}", []);
            Assert.Equal((long)i, await lease.Command.ExecuteScalarAsync());
            if (i == 1)
            {
                // Used again: more recent than the second statement, which is then the one dropped.
                await using var again = session.Command(null, "SELECT 0", []);
                await again.Command.ExecuteScalarAsync();
            }
        }

        Assert.NotNull(session.Kept("SELECT 0"));
        Assert.Null(session.Kept("SELECT 1"));
        Assert.NotNull(session.Kept($"SELECT {SqliteSession.MaxStatements}"));
        Assert.Equal(SqliteSession.MaxStatements, SqliteStatements.Prepared((SqliteConnection)session.Connection).Count);
    }

    [Fact]
    public async Task ReadAsync_UnitThatFailed_ClosesItsConnectionInsteadOfLendingItAgain()
    {
        await using var backend = await OpenAsync();
        await AuditIdsAsync(backend);
        var kept = Assert.Single(backend.Sessions.IdleReaders);

        await Assert.ThrowsAsync<InvalidOperationException>(() => backend.ReadAsync<int>(async rows =>
        {
            await rows.ListAuditAsync(new AuditQuery(), default);
            throw new InvalidOperationException("the unit failed");
        }, default));

        Assert.Empty(backend.Sessions.IdleReaders);
        Assert.Equal(0, backend.Sessions.OpenConnections);
        await AuditIdsAsync(backend);
        Assert.NotSame(kept, Assert.Single(backend.Sessions.IdleReaders));
    }

    [Fact]
    public async Task WriteAsync_UnitThatFailed_ClosesTheWriterAndItsRowsAreGone()
    {
        await using var backend = await OpenAsync();
        await AppendAsync(backend, "kept");
        var writer = backend.Sessions.IdleWriter;
        Assert.NotNull(writer);

        await Assert.ThrowsAsync<InvalidOperationException>(() => backend.WriteAsync<int>(async rows =>
        {
            await rows.InsertAuditAsync(Entry("undone"), default);
            throw new InvalidOperationException("the unit failed");
        }, default));

        Assert.Null(backend.Sessions.IdleWriter);
        await AppendAsync(backend, "after");
        Assert.NotSame(writer, backend.Sessions.IdleWriter);
        Assert.Equal(["after", "kept"], await AuditIdsAsync(backend));
    }

    [Fact]
    public async Task ReadAsync_TwoBackendsOnOneFile_SeeEachOthersCommitsOnTheirKeptConnections()
    {
        await using var first = await OpenAsync();
        await using var second = await OpenAsync();
        Assert.Empty(await AuditIdsAsync(first));
        Assert.Empty(await AuditIdsAsync(second));
        var firstReader = Assert.Single(first.Sessions.IdleReaders);
        var secondReader = Assert.Single(second.Sessions.IdleReaders);

        await AppendAsync(second, "from-second");
        Assert.Equal(["from-second"], await AuditIdsAsync(first));
        await AppendAsync(first, "from-first");
        Assert.Equal(["from-first", "from-second"], await AuditIdsAsync(second));
        await AppendAsync(second, "again");
        Assert.Equal(["again", "from-first", "from-second"], await AuditIdsAsync(first));

        Assert.Same(firstReader, Assert.Single(first.Sessions.IdleReaders));
        Assert.Same(secondReader, Assert.Single(second.Sessions.IdleReaders));
    }

    [Fact]
    public async Task DisposeAsync_ClosesKeptConnectionsAndOneLentWhenGivenBack()
    {
        var backend = await OpenAsync();
        await AppendAsync(backend, "one");
        await AuditIdsAsync(backend);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lent = backend.ReadAsync(async rows =>
        {
            entered.SetResult();
            await gate.Task;
            return (await rows.ListAuditAsync(new AuditQuery(), default)).Count;
        }, default);
        await entered.Task;
        Assert.Equal(2, backend.Sessions.OpenConnections);

        await backend.DisposeAsync();
        Assert.Equal(1, backend.Sessions.OpenConnections);
        gate.SetResult();
        Assert.Equal(1, await lent);
        Assert.Equal(0, backend.Sessions.OpenConnections);
    }

    [Fact]
    public async Task CompactAsync_AfterReadsOnKeptConnections_EmptiesTheWal()
    {
        await using var backend = await OpenAsync();
        for (var i = 0; i < 20; i++)
        {
            await AppendAsync(backend, $"entry-{i}");
        }

        Assert.Equal(20, (await AuditIdsAsync(backend)).Count);
        Assert.True(new FileInfo(DatabaseFile + "-wal").Length > 0);

        // A kept statement left unreset would hold a read snapshot and the checkpoint could not truncate the WAL.
        await backend.CompactAsync(default);
        Assert.Equal(0, new FileInfo(DatabaseFile + "-wal").Length);
    }
}
