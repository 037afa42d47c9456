using System.Collections.Concurrent;
using System.Data.Common;

namespace RunCommand.Storage.Relational;

/// <summary>
/// Group commit: concurrent <see cref="WriteAsync{T}"/> units are committed together, up to <see cref="MaxBatch"/>
/// in one transaction, by at most <see cref="ConcurrentWriters"/> writers at a time; run-command writes may have lanes
/// of their own (<see cref="WriteRunCommandAsync{T}"/>). Each unit runs inside its own
/// savepoint: a unit that throws is rolled back to it and its error goes to its own caller only; the others commit.
/// Every caller is answered only after the commit that holds its rows (or with its error); the topics of the units
/// that committed are published after that commit and before any caller is answered. A conflict the database asks to retry runs the whole batch again.
/// </summary>
public abstract partial class SqlBackend
{
    private const int MaxBatch = 64;
    private const string SavepointSql = "SAVEPOINT unit";
    private const string ReleaseSql = "RELEASE SAVEPOINT unit";
    private const string RollbackSql = "ROLLBACK TO SAVEPOINT unit";

    private WriteLane? _shared;
    private WriteLane[]? _runCommandLanes;
    private readonly WriterGate _gate = new();

    /// <summary>
    /// How many batches may be committing at once: 1 where the database has one writer (SQLite); more where writers
    /// run in parallel and only conflicting ones are retried (PostgreSQL).
    /// </summary>
    protected virtual int ConcurrentWriters => 1;

    /// <summary>
    /// How many lanes of their own <see cref="WriteRunCommandAsync{T}"/> units get, each with one writer that begins its
    /// transactions with <see cref="BeginRowLockedWriteAsync"/> and locks each unit's rows first (<see cref="SqlRows.LockRunCommandAsync"/>);
    /// a VM's units always take the same lane. 0 (the default): they queue with every other write.
    /// </summary>
    protected virtual int RunCommandLanes => 0;

    /// <summary>The transaction of a run-command lane's batch, whose units lock the rows they read before reading them.</summary>
    protected virtual Task<DbTransaction> BeginRowLockedWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"The {Name} backend has no run-command lanes.");

    /// <summary>Runs one batch's commit; a backend that must exclude other work from the writer (SQLite's compaction) wraps it.</summary>
    protected virtual Task RunExclusiveAsync(Func<Task> commit) => commit();

    private WriteLane Shared => LazyInitializer.EnsureInitialized(ref _shared, () => new WriteLane(ConcurrentWriters, locksRows: false));

    public Task<T> WriteAsync<T>(Func<IRows, Task<T>> work, CancellationToken cancellationToken) =>
        Enqueue(Shared, new WriteUnit<T>(work, null, cancellationToken));

    /// <summary>
    /// A write that changes only the rows of <paramref name="command"/> (its row, its executions and operations, its VM's
    /// row) and appends to the activity log. Where the backend has run-command lanes (PostgreSQL), it commits on its VM's
    /// lane, in parallel with the other lanes and the shared writer, its rows locked before <paramref name="work"/> reads
    /// them; elsewhere as <see cref="WriteAsync{T}"/>.
    /// </summary>
    public Task<T> WriteRunCommandAsync<T>(RunCommandKey command, Func<IRows, Task<T>> work, CancellationToken cancellationToken)
    {
        var lanes = LazyInitializer.EnsureInitialized(ref _runCommandLanes,
            () => [.. Enumerable.Range(0, RunCommandLanes).Select(_ => new WriteLane(1, locksRows: true))]);
        if (lanes.Length == 0)
        {
            return WriteAsync(work, cancellationToken);
        }

        // Units of one VM never commit in parallel on this node, so a node's lanes never wait for each other's locks.
        var lane = lanes[(uint)StringComparer.Ordinal.GetHashCode(command.Vm.Key) % (uint)lanes.Length];
        return Enqueue(lane, new WriteUnit<T>(work, command, cancellationToken));
    }

    /// <summary>
    /// Where run-command lanes exist, a node's lanes commit together and its shared writer alone (<see cref="WriterGate"/>):
    /// the lanes' locks then only ever meet the shared writer's transactions of other nodes.
    /// </summary>
    private Task GatedAsync(WriteLane lane, Func<Task> commit) =>
        RunCommandLanes == 0 ? commit()
        : lane.LocksRows ? _gate.RunLaneAsync(commit)
        : _gate.RunSharedAsync(commit);

    private Task<T> Enqueue<T>(WriteLane lane, WriteUnit<T> unit)
    {
        unit.CancellationToken.ThrowIfCancellationRequested();
        lane.Pending.Enqueue(unit);
        StartWriterIfIdle(lane);
        return unit.Task;
    }

    private void StartWriterIfIdle(WriteLane lane)
    {
        while (true)
        {
            var writers = Volatile.Read(ref lane.Writers);
            if (writers >= lane.MaxWriters || lane.Pending.IsEmpty)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref lane.Writers, writers + 1, writers) == writers)
            {
                _ = Task.Run(() => WriterLoopAsync(lane));
                return;
            }
        }
    }

    /// <summary>Commits batches while units are waiting; a unit queued after the last look starts a writer again.</summary>
    private async Task WriterLoopAsync(WriteLane lane)
    {
        try
        {
            var batch = new List<IWriteUnit>(MaxBatch);
            while (true)
            {
                batch.Clear();
                while (batch.Count < MaxBatch && lane.Pending.TryDequeue(out var unit))
                {
                    batch.Add(unit);
                }

                if (batch.Count == 0)
                {
                    return;
                }

                await CommitBatchAsync(lane, batch);
            }
        }
        finally
        {
            Interlocked.Decrement(ref lane.Writers);
            StartWriterIfIdle(lane);
        }
    }

    /// <summary>
    /// One transaction for every unit of <paramref name="batch"/>; never throws: each unit is answered with its result
    /// or its error once the outcome of the commit is known.
    /// </summary>
    private async Task CommitBatchAsync(WriteLane lane, List<IWriteUnit> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // Each attempt takes its turn at the gate, and waits out its back-off outside it.
                await GatedAsync(lane, () => RunExclusiveAsync(() => CommitOnceAsync(lane, batch)));
                return;
            }
            catch (Exception e) when (IsStorageFull(e))
            {
                // The transaction is rolled back: nothing of any unit is kept and what was stored before is intact.
                FailAll(batch, new StorageFullException(e));
                return;
            }
            catch (Exception e) when (IsTransient(e))
            {
                // Another transaction won a conflicting write: run every unit again on fresh rows.
                try
                {
                    await BackOffAsync(attempt, e, CancellationToken.None);
                }
                catch (StorageBusyException busy)
                {
                    FailAll(batch, busy);
                    return;
                }
            }
            catch (Exception e)
            {
                // The connection, BEGIN or COMMIT failed: no unit's rows are known to be stored.
                FailAll(batch, e);
                return;
            }
        }
    }

    private async Task CommitOnceAsync(WriteLane lane, List<IWriteUnit> batch)
    {
        await using var session = await OpenWriterAsync(CancellationToken.None);
        try
        {
            await CommitOnceAsync(lane, session, batch);
        }
        catch
        {
            // BEGIN, a statement outside the units' savepoints or COMMIT failed: the transaction was rolled back when
            // disposed, and the connection is not lent again in whatever state the error left it.
            session.MarkBroken();
            throw;
        }
    }

    private async Task CommitOnceAsync(WriteLane lane, SqlSession session, List<IWriteUnit> batch)
    {
        var guarded = batch.Count > 1;
        var topics = new HashSet<string>(StringComparer.Ordinal);
        var connection = session.Connection;
        await using var transaction = lane.LocksRows
            ? await BeginRowLockedWriteAsync(connection, CancellationToken.None)
            : await BeginWriteAsync(connection, CancellationToken.None);

        // What units that returned still have to send (their last writes, their RELEASE): it goes first in the next
        // unit's first round trip, so a unit costs one round trip per answer it reads. Index batch.Count sends what is
        // left at the end. A carried statement the database refuses fails the unit that wrote it; the units after it
        // had sent nothing yet and run again.
        var carried = new CarriedStatements();
        for (var next = 0; next <= batch.Count; next++)
        {
            var unit = next < batch.Count ? batch[next] : null;
            var rows = new SqlRows(session, transaction, dialect, OutputFiles);
            rows.Carry(carried.Statements);
            Exception? failed = null;
            if (unit is not null)
            {
                unit.Reset();
                if (unit.CancellationToken.IsCancellationRequested)
                {
                    unit.Fail(new OperationCanceledException(unit.CancellationToken));
                    carried.Statements = rows.TakeCarried();
                    continue;
                }
            }

            try
            {
                if (unit is null)
                {
                    await rows.FlushAsync(CancellationToken.None);
                }
                else
                {
                    if (guarded)
                    {
                        await rows.DeferAsync(SavepointSql, CancellationToken.None);
                    }

                    if (lane.LocksRows && unit.Command is { } command)
                    {
                        // Before the unit reads: what it reads, nobody else changes until this batch commits.
                        await rows.LockRunCommandAsync(command, CancellationToken.None);
                    }

                    await unit.RunAsync(rows);
                    if (guarded)
                    {
                        await rows.DeferAsync(ReleaseSql, CancellationToken.None);
                    }
                    else
                    {
                        await rows.FlushAsync(CancellationToken.None);
                    }
                }
            }
            catch (Exception e) when (guarded && !IsTransient(e) && !IsStorageFull(e))
            {
                failed = e;
            }

            if (rows.CarriedFailure is { } refused)
            {
                if (refused.Index < 0)
                {
                    // The driver did not say which statement was refused: no unit can be told it committed.
                    throw refused.Error;
                }

                // The units before the refused statement's are stored (their RELEASE ran); it is rolled back to its own
                // savepoint, and every unit after it runs again from the start.
                var owner = carried.Owner(refused.Index, topics);
                await SqlRows.ExecuteAsync(session, transaction, RollbackSql, CancellationToken.None);
                batch[owner].Fail(refused.Error);
                carried = new CarriedStatements();
                next = owner;
                continue;
            }

            if (!rows.CarriedUnsent)
            {
                // Whatever was carried ran (this unit's round trip went out, or nothing was carried).
                carried.Confirm(topics);
            }

            if (unit is null)
            {
                break;
            }

            if (failed is not null)
            {
                // Only this unit's rows are undone (none reached the database when nothing was sent); the batch goes on
                // and commits the others. What it carried for earlier units goes on with the next unit.
                if (rows.CarriedUnsent || !rows.AnySent)
                {
                    carried.Statements = rows.TakeCarried();
                }
                else
                {
                    await SqlRows.ExecuteAsync(session, transaction, RollbackSql, CancellationToken.None);
                }

                unit.Fail(failed);
                continue;
            }

            if (guarded)
            {
                carried.Add(next, rows);
            }
            else
            {
                topics.UnionWith(rows.Topics);
            }
        }

        await BeforeCommitAsync(connection, transaction, topics, CancellationToken.None);

        // Checkpoint: once the commit returns, every unit that ran without error is durable; a crash before it leaves
        // nothing of any of them, and no caller has been answered yet.
        await transaction.CommitAsync(CancellationToken.None);
        foreach (var topic in topics)
        {
            Changes.Publish(topic);
        }

        foreach (var unit in batch)
        {
            unit.Complete();
        }
    }

    /// <summary>
    /// Statements of units that returned, not yet sent, in order, and which unit each run of them belongs to: a unit's
    /// topics count only once all of its statements ran.
    /// </summary>
    private sealed class CarriedStatements
    {
        private readonly List<(int Unit, int Count, IReadOnlyCollection<string> Topics)> _owners = [];

        public List<DeferredStatement> Statements { get; set; } = [];

        /// <summary>Unit <paramref name="unit"/> returned; its statements still unsent follow the ones already carried.</summary>
        public void Add(int unit, SqlRows rows)
        {
            // What was carried into the unit and ran has been confirmed already (Statements is empty then).
            var unsentBefore = Statements.Count;
            Statements = rows.TakeDeferred();
            _owners.Add((unit, Statements.Count - unsentBefore, rows.Topics));
        }

        /// <summary>Every carried statement ran: their units' topics are the batch's.</summary>
        public void Confirm(HashSet<string> topics)
        {
            foreach (var owner in _owners)
            {
                topics.UnionWith(owner.Topics);
            }

            _owners.Clear();
            Statements = [];
        }

        /// <summary>The unit whose statement at <paramref name="index"/> was refused; the units before it ran, their topics are the batch's.</summary>
        public int Owner(int index, HashSet<string> topics)
        {
            var start = 0;
            foreach (var owner in _owners)
            {
                if (index < start + owner.Count)
                {
                    return owner.Unit;
                }

                topics.UnionWith(owner.Topics);
                start += owner.Count;
            }

            throw new InvalidOperationException($"Carried statement {index} has no unit; {start} were carried.");
        }
    }

    private static void FailAll(List<IWriteUnit> batch, Exception error)
    {
        foreach (var unit in batch)
        {
            unit.Reset();
            unit.Fail(error);
            unit.Complete();
        }
    }

    /// <summary>
    /// One queue of write units and the writers (at most <paramref name="maxWriters"/>) committing its batches; a lane
    /// that <paramref name="locksRows"/> runs its batches at the isolation of <see cref="BeginRowLockedWriteAsync"/>.
    /// </summary>
    private sealed class WriteLane(int maxWriters, bool locksRows)
    {
        public int MaxWriters => maxWriters;

        public bool LocksRows => locksRows;

        public ConcurrentQueue<IWriteUnit> Pending { get; } = new();

        /// <summary>Writers running now (changed with <see cref="Interlocked"/>).</summary>
        public int Writers;
    }

    /// <summary>One caller's work in a batch, its result held until the batch's commit answers it.</summary>
    private interface IWriteUnit
    {
        CancellationToken CancellationToken { get; }

        /// <summary>The run command whose rows the unit changes, when it was queued with <see cref="WriteRunCommandAsync{T}"/>.</summary>
        RunCommandKey? Command { get; }

        /// <summary>Forgets the result of an earlier attempt of the batch.</summary>
        void Reset();

        Task RunAsync(IRows rows);

        /// <summary>Records this unit's own error (its rows were rolled back); given to the caller by <see cref="Complete"/>.</summary>
        void Fail(Exception error);

        /// <summary>Answers the caller: the result, or the error recorded.</summary>
        void Complete();
    }

    private sealed class WriteUnit<T>(Func<IRows, Task<T>> work, RunCommandKey? command, CancellationToken cancellationToken) : IWriteUnit
    {
        private readonly TaskCompletionSource<T> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _error;

        public Task<T> Task => _answer.Task;

        public CancellationToken CancellationToken => cancellationToken;

        public RunCommandKey? Command => command;

        public void Reset()
        {
            _result = default;
            _error = null;
        }

        public async Task RunAsync(IRows rows) => _result = await work(rows);

        public void Fail(Exception error) => _error = error;

        public void Complete()
        {
            if (_error is OperationCanceledException canceled)
            {
                _answer.TrySetCanceled(canceled.CancellationToken);
            }
            else if (_error is not null)
            {
                _answer.TrySetException(_error);
            }
            else
            {
                _answer.TrySetResult(_result!);
            }
        }
    }
}
