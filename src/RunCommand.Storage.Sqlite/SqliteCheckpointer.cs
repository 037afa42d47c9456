using Microsoft.Data.Sqlite;

namespace RunCommand.Storage.Sqlite;

/// <summary>
/// Checkpoints the WAL beside the writers, on a connection of its own, instead of inside the commit that made the WAL
/// pass SQLite's auto-checkpoint size. A checkpoint waits on two disk flushes (the WAL's, then the main file's: about
/// 10-30 ms each on this project's machines), and SQLite runs it in the committing thread, so before this every 4 MiB
/// output commit of a large upload waited on both before the next could start (docs/performance.md, item 26). A PASSIVE
/// checkpoint takes no write lock: commits go on appending to the WAL while it copies and flushes, and one pass copies
/// every frame committed before it began, however many commits that is.
/// <para>
/// A pass waits <see cref="PassDelay"/> after the commit that woke it, so the commits of a burst (a command's PUT, its
/// agent's reports and the checks of their assertions: a few within a few milliseconds) share one pass that runs once
/// they are done. A pass after every commit put two disk flushes beside each command, and made the next commit start
/// the WAL over, which syncs its header (synchronous=NORMAL does that, once a checkpoint copied everything): two to
/// three flushes of 0.3-1 ms on a lone command's path (docs/performance.md, item 53). Under a stream of commits the
/// pass starts once <see cref="BurstCommits"/> have come instead: a second of them grew the WAL past its limit, and the
/// writer's catch-up then held every commit for a pass over 64 MiB.
/// </para>
/// </summary>
/// <remarks>
/// Crash safety does not depend on it: a committed transaction is in the WAL, and a checkpoint killed midway is redone
/// from the WAL when the file is next opened. If passes fail, SQLite's own auto-checkpoint, set to
/// <see cref="BackstopPages"/> on every connection, checkpoints in a commit again, as before. SQLite starts the WAL over only at a commit that finds every frame copied, which a
/// stream of commits faster than the passes never gives it (1 GiB of output grew the WAL to 936 MiB): once the WAL file
/// is longer than <see cref="WalSizeLimitBytes"/>, the writer lets one pass catch up before its next commit
/// (<see cref="CatchUpAsync"/>), and that commit starts the WAL over and cuts the file back to the limit.
/// </remarks>
internal sealed class SqliteCheckpointer : IAsyncDisposable
{
    /// <summary>
    /// WAL pages after which a commit checkpoints itself (SQLite's <c>wal_autocheckpoint</c>; its default is 1,000):
    /// reached only when this checkpointer falls that far behind.
    /// </summary>
    public const int BackstopPages = 16_384;

    /// <summary>
    /// The size the WAL file is cut back to when it restarts (<c>journal_size_limit</c>), and past which the writer lets a
    /// pass catch up before its next commit: the WAL file stays within this and one batch.
    /// </summary>
    public const long WalSizeLimitBytes = 64L << 20;

    /// <summary>How long a pass waits after the commit that woke it, for the rest of a burst (a batching latency, on the wall clock).</summary>
    public static readonly TimeSpan DefaultPassDelay = TimeSpan.FromSeconds(1);

    /// <summary>Commits after which a waiting pass starts at once: a stream of them, not a command's few.</summary>
    public const int BurstCommits = 32;

    private readonly string _walPath;
    private readonly Func<CancellationToken, Task<SqliteConnection>> _connect;
    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>Held by a pass, and by <see cref="ExcludingPassesAsync"/>: SQLite answers a second checkpoint busy at once.</summary>
    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <summary>The checkpointer's connection, opened at its first pass; used under <see cref="_pass"/>.</summary>
    private SqliteConnection? _connection;

    /// <summary>1 while a wake is signalled and not yet taken by the loop (so the semaphore is released at most once).</summary>
    private int _signalled;

    /// <summary>Commits since the loop last started a pass.</summary>
    private int _commits;

    /// <summary>Completed once <see cref="BurstCommits"/> commits came: the waiting pass starts without the rest of its delay.</summary>
    private TaskCompletionSource _burst = NewSignal();

    public SqliteCheckpointer(string databasePath, Func<CancellationToken, Task<SqliteConnection>> connect, TimeSpan? passDelay = null)
    {
        _walPath = databasePath + "-wal";
        _connect = connect;
        PassDelay = passDelay ?? DefaultPassDelay;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>How long a pass waits after the commit that woke it (<see cref="DefaultPassDelay"/> unless a test sets it).</summary>
    public TimeSpan PassDelay { get; }

    /// <summary>Passes that copied frames into the main file; for tests.</summary>
    public int Passes { get; private set; }

    /// <summary>
    /// A write transaction committed: checkpoint what it added. Cheap and never blocks; commits that arrive while a pass
    /// runs are all covered by the next one.
    /// </summary>
    public void Committed()
    {
        if (Interlocked.Increment(ref _commits) >= BurstCommits)
        {
            Volatile.Read(ref _burst).TrySetResult();
        }

        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>
    /// True when the WAL file is longer than <see cref="WalSizeLimitBytes"/>: no commit found every frame copied, so none
    /// started it over (SQLite restarts the WAL only then, and cuts the file back to the limit at that commit). The
    /// writer then runs <see cref="CatchUpAsync"/> before its next commit. One stat a commit.
    /// </summary>
    public bool WalTooLong
    {
        get
        {
            var wal = new FileInfo(_walPath);
            return wal.Exists && wal.Length > WalSizeLimitBytes;
        }
    }

    /// <summary>
    /// One pass, run by the writer with SQLite's write lock not yet taken and no other commit possible (the in-process
    /// write lock is held): it copies every frame, so the commit that follows starts the WAL over from its beginning.
    /// Costs that commit one pass over what the background passes have not copied yet, once per
    /// <see cref="BackstopPages"/> of WAL at most.
    /// </summary>
    public Task CatchUpAsync(CancellationToken cancellationToken) => PassAsync(cancellationToken);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task RunAsync()
    {
        try
        {
            while (true)
            {
                await _wake.WaitAsync(_stop.Token);

                // Commits meanwhile find the wake still signalled and add nothing: this pass covers them.
                var burst = Volatile.Read(ref _burst);
                if (!burst.Task.IsCompleted)
                {
                    await Task.WhenAny(burst.Task, Task.Delay(PassDelay, _stop.Token));
                }

                // Reset before the pass: a commit from here on is not surely covered by it, so it wakes the next.
                Interlocked.Exchange(ref _burst, NewSignal());
                Interlocked.Exchange(ref _commits, 0);
                Volatile.Write(ref _signalled, 0);
                await PassAsync(_stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task PassAsync(CancellationToken cancellationToken)
    {
        await _pass.WaitAsync(cancellationToken);
        try
        {
            _connection ??= await _connect(cancellationToken);
            if (await CheckpointAsync(_connection, cancellationToken))
            {
                Passes++;
            }
        }
        catch (SqliteException)
        {
            // A busy file (another process checkpointing) or a full disk: the next commit wakes this again, and the
            // backstop auto-checkpoint keeps the WAL bounded meanwhile.
        }
        finally
        {
            _pass.Release();
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

    /// <summary>One PASSIVE checkpoint; true when the WAL held frames and they are in the main file now.</summary>
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
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        _stop.Dispose();
        _wake.Dispose();
        _pass.Dispose();
    }
}
