using Microsoft.Data.Sqlite;

namespace RunCommand.Storage.Sqlite;

/// <summary>
/// Checkpoints the WAL beside the writers, on a connection of its own, instead of inside the commit that made the WAL
/// pass SQLite's auto-checkpoint size. A checkpoint waits on two disk flushes (the WAL's, then the main file's: about
/// 10-30 ms each on this project's machines), and SQLite runs it in the committing thread, so before this every 4 MiB
/// output commit of a large upload waited on both before the next could start (docs/performance.md, item 26). A PASSIVE
/// checkpoint takes no write lock: commits go on appending to the WAL while it copies and flushes, and one pass copies
/// every frame committed before it began, however many commits that is.
/// </summary>
/// <remarks>
/// Crash safety does not depend on it: a committed transaction is in the WAL, and a checkpoint killed midway is redone
/// from the WAL when the file is next opened. If this falls behind (or a pass fails), SQLite's own auto-checkpoint,
/// set to <see cref="BackstopPages"/> on every connection, checkpoints in a commit again, as before, so the WAL
/// cannot grow without bound; <see cref="WalSizeLimitBytes"/> then cuts the WAL file back when it restarts.
/// </remarks>
internal sealed class SqliteCheckpointer : IAsyncDisposable
{
    /// <summary>
    /// WAL pages after which a commit checkpoints itself (SQLite's <c>wal_autocheckpoint</c>; its default is 1,000):
    /// reached only when this checkpointer falls that far behind.
    /// </summary>
    public const int BackstopPages = 16_384;

    /// <summary>The size the WAL file is cut back to when it restarts (<c>journal_size_limit</c>).</summary>
    public const long WalSizeLimitBytes = 64L << 20;

    private readonly Func<CancellationToken, Task<SqliteConnection>> _connect;
    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>Held by a pass, and by <see cref="ExcludingPassesAsync"/>: SQLite answers a second checkpoint busy at once.</summary>
    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <summary>1 while a wake is signalled and not yet taken by the loop (so the semaphore is released at most once).</summary>
    private int _signalled;

    public SqliteCheckpointer(Func<CancellationToken, Task<SqliteConnection>> connect)
    {
        _connect = connect;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Passes: checkpoints that found frames to copy; for tests.</summary>
    public int Passes { get; private set; }

    /// <summary>
    /// A write transaction committed: checkpoint what it added. Cheap and never blocks; commits that arrive while a pass
    /// runs are all covered by the next one.
    /// </summary>
    public void Committed()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            _wake.Release();
        }
    }

    private async Task RunAsync()
    {
        SqliteConnection? connection = null;
        try
        {
            while (true)
            {
                await _wake.WaitAsync(_stop.Token);
                Volatile.Write(ref _signalled, 0);
                await _pass.WaitAsync(_stop.Token);
                try
                {
                    connection ??= await _connect(_stop.Token);
                    if (await CheckpointAsync(connection, _stop.Token))
                    {
                        Passes++;
                    }
                }
                catch (SqliteException)
                {
                    // A busy file (another process checkpointing) or a full disk: the next commit wakes this again, and
                    // the backstop auto-checkpoint keeps the WAL bounded meanwhile.
                }
                finally
                {
                    _pass.Release();
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> with no pass of this checkpointer running: a checkpoint of its own (compaction's
    /// TRUNCATE) would otherwise find the checkpoint lock held and be answered busy without waiting.
    /// </summary>
    public async Task ExcludingPassesAsync(Func<Task> work, CancellationToken cancellationToken)
    {
        await _pass.WaitAsync(cancellationToken);
        try
        {
            await work();
        }
        finally
        {
            _pass.Release();
        }
    }

    /// <summary>One PASSIVE checkpoint; true when it found frames not yet copied to the main file.</summary>
    private static async Task<bool> CheckpointAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);

        // One row: busy, frames in the WAL, frames copied to the main file (all of them unless a reader holds some back).
        return await reader.ReadAsync(cancellationToken) && reader.GetInt64(1) > 0 && reader.GetInt64(2) > 0;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        _wake.Dispose();
        _pass.Dispose();
    }
}
