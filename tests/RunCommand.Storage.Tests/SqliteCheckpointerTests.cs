using Microsoft.Data.Sqlite;
using RunCommand.Storage.Sqlite;
using RunCommand.Testing;

namespace RunCommand.Storage.Tests;

/// <summary>
/// The SQLite backend checkpoints its WAL beside the writers (<c>SqliteCheckpointer</c>, docs/performance.md item 26):
/// a commit no longer checkpoints (and waits on two disk flushes) once the WAL passes SQLite's default 1,000 pages,
/// yet what it wrote still reaches the main file, and the data reads back whole after the backend is reopened.
/// </summary>
public sealed class SqliteCheckpointerTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 23, 0, 0, TimeSpan.Zero);
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

    /// <summary>Eight audit entries of 1 MiB each in one transaction: about 2,050 WAL pages, past SQLite's default checkpoint size.</summary>
    private static Task<int> WriteEightMebibytesAsync(SqliteBackend backend) => backend.WriteAsync(async rows =>
    {
        for (var i = 0; i < 8; i++)
        {
            await rows.InsertAuditAsync(new AuditRecord
            {
                Id = $"big-{i}", Time = Now, Action = "test/write", ResourceId = new string((char)('a' + i), 1 << 20), HttpMethod = "PUT", StatusCode = 200,
            }, default);
        }

        return 0;
    }, default);

    [Fact]
    public async Task WriteAsync_WalPastSqlitesDefaultCheckpointSize_CommitLeavesTheCheckpointToTheCheckpointer()
    {
        await using var backend = await OpenAsync();
        var mainFileBefore = new FileInfo(DatabaseFile).Length;

        await WriteEightMebibytesAsync(backend);

        // The writer's connection checkpoints only past the backstop (SQLite's default would have made this commit do it).
        await using (var writer = await backend.Sessions.RentWriterAsync(default))
        await using (var command = ((SqliteConnection)writer.Connection).CreateCommand())
        {
            command.CommandText = "PRAGMA wal_autocheckpoint;";
            Assert.Equal((long)SqliteCheckpointer.BackstopPages, await command.ExecuteScalarAsync());
        }

        // ... and the checkpointer copies the commit into the main file on its own.
        await Wait.UntilAsync(
            () => new FileInfo(DatabaseFile).Length >= mainFileBefore + (8L << 20) && backend.Checkpointer.Passes > 0,
            TimeSpan.FromSeconds(60),
            "the checkpointer to copy the 8 MiB commit into the main file");
    }

    [Fact]
    public async Task WriteAsync_CommitsOfABurst_ShareOnePassAfterThem()
    {
        var delay = TimeSpan.FromMilliseconds(500);
        await using var backend = new SqliteBackend(DatabaseFile, new InProcessChangeFeed(), checkpointDelay: delay);
        await backend.MigrateAsync(default); // Not through the writer: it wakes no pass.
        var before = backend.Checkpointer.Passes;

        // Ten small commits 10 ms apart, as a command's PUT and its agent's reports come: a pass after each (what the
        // checkpointer did before) would make about ten.
        for (var i = 0; i < 10; i++)
        {
            await backend.WriteAsync(async rows =>
            {
                await rows.InsertAuditAsync(new AuditRecord { Id = $"burst-{i}", Time = Now, Action = "test/write", ResourceId = "r", HttpMethod = "PUT", StatusCode = 200 }, default);
                return 0;
            }, default);
            await Task.Delay(10);
        }

        await Wait.UntilAsync(() => backend.Checkpointer.Passes > before, TimeSpan.FromSeconds(30), "the pass after the burst");

        // Nothing is left for another pass: a second could only come from a commit after the first pass began.
        await Task.Delay(delay * 2);
        Assert.InRange(backend.Checkpointer.Passes - before, 1, 2);
    }

    [Fact]
    public async Task WriteAsync_StreamOfCommits_PassStartsBeforeItsDelay()
    {
        // A delay no test waits out: only the burst rule can start this pass.
        await using var backend = new SqliteBackend(DatabaseFile, new InProcessChangeFeed(), checkpointDelay: TimeSpan.FromMinutes(5));
        await backend.MigrateAsync(default);

        for (var i = 0; i < SqliteCheckpointer.BurstCommits; i++)
        {
            await backend.WriteAsync(async rows =>
            {
                await rows.InsertAuditAsync(new AuditRecord { Id = $"stream-{i}", Time = Now, Action = "test/write", ResourceId = "r", HttpMethod = "PUT", StatusCode = 200 }, default);
                return 0;
            }, default);
        }

        await Wait.UntilAsync(() => backend.Checkpointer.Passes > 0, TimeSpan.FromSeconds(30), "a pass once a burst of commits came");
    }

    [Fact]
    public async Task WriteAsync_CommitsFasterThanThePasses_WalFileStaysWithinItsLimitAndOneBatch()
    {
        await using var backend = await OpenAsync();
        const long Limit = SqliteCheckpointer.WalSizeLimitBytes;
        long largest = 0;

        // 256 MiB in 4 MiB units from four writers at once, so the writer always has the next commit queued: the background
        // passes lag behind, and without the writer's catch-up no commit would find the WAL fully copied (it grew to
        // nearly all of it).
        async Task WriterAsync(int writer)
        {
            for (var i = 0; i < 16; i++)
            {
                await backend.WriteAsync(async rows =>
                {
                    for (var j = 0; j < 4; j++)
                    {
                        await rows.InsertAuditAsync(new AuditRecord
                        {
                            Id = $"w{writer}-{i}-{j}", Time = Now, Action = "test/write", ResourceId = new string('y', 1 << 20), HttpMethod = "PUT", StatusCode = 200,
                        }, default);
                    }

                    return 0;
                }, default);
                var length = new FileInfo(DatabaseFile + "-wal").Length;
                InterlockedMax(ref largest, length);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(WriterAsync));

        // The limit, plus the batch that crossed it (group commit: up to four units of 4 MiB).
        Assert.True(largest <= Limit + (16L << 20) + (1L << 20), $"the WAL grew to {largest >> 20} MiB");
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var seen = Interlocked.Read(ref target);
        while (value > seen)
        {
            var was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }

    [Fact]
    public async Task WriteAsync_CommitsWhileCheckpointing_EveryRowReadsBackAfterReopening()
    {
        await using (var backend = await OpenAsync())
        {
            for (var round = 0; round < 4; round++)
            {
                await backend.WriteAsync(async rows =>
                {
                    for (var i = 0; i < 4; i++)
                    {
                        await rows.InsertAuditAsync(new AuditRecord
                        {
                            Id = $"r{round}-{i}", Time = Now, Action = "test/write", ResourceId = new string('x', 1 << 20), HttpMethod = "PUT", StatusCode = 200,
                        }, default);
                    }

                    return 0;
                }, default);
            }
        }

        // Disposed with the last checkpoint perhaps midway: whatever the WAL still holds is the main file's on reopening.
        await using var reopened = await OpenAsync();
        var ids = await reopened.ReadAsync(async rows => (await rows.ListAuditAsync(new AuditQuery(), default)).Select(e => e.Id).ToList(), default);
        Assert.Equal(16, ids.Count);
        Assert.Equal(Enumerable.Range(0, 4).SelectMany(r => Enumerable.Range(0, 4).Select(i => $"r{r}-{i}")).Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
    }
}
