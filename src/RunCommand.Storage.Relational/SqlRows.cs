using System.Data.Common;
using System.Globalization;

namespace RunCommand.Storage.Relational;

/// <summary>
/// The rows of one SQL transaction: each member is one or a few statements, no rule. Split by area
/// (<c>SqlRows.*.cs</c>); this part holds the plumbing and the column readers every area uses. Output bytes are rows of
/// the <c>output</c> table unless the backend keeps them in <paramref name="outputFiles"/>.
/// </summary>
public sealed partial class SqlRows(SqlSession session, DbTransaction transaction, SqlDialect dialect, IOutputFiles? outputFiles = null) : IRows
{
    private readonly HashSet<string> _topics = new(StringComparer.Ordinal);
    private readonly List<DeferredStatement> _deferred = [];
    private readonly bool _batches = session.Connection.CanCreateBatch;

    // How many of the first statements of _deferred were carried over from earlier units of the batch (not yet sent).
    private int _carried;

    /// <summary>Topics notified by this transaction, each once.</summary>
    public IReadOnlyCollection<string> Topics => _topics;

    public void Notify(string topic) => _topics.Add(topic);

    private object? Time(DateTimeOffset? value) => value is { } v ? dialect.ToTimeValue(v) : null;

    internal static void AddParameters(DbParameterCollection collection, Func<DbParameter> create, (string Name, object? Value)[] parameters)
    {
        foreach (var (name, value) in parameters)
        {
            var parameter = create();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            collection.Add(parameter);
        }
    }

    /// <summary>
    /// Runs a statement whose answer nobody reads (an insert, an update by key). Where the connection can send several
    /// statements in one round trip (<see cref="DbConnection.CanCreateBatch"/>: PostgreSQL), it waits and goes with the
    /// next statement of this transaction or with <see cref="FlushAsync"/>, in order; its error then surfaces there,
    /// still inside the same unit. Elsewhere (SQLite, in-process) it runs at once.
    /// </summary>
    private Task DeferAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        if (!_batches)
        {
            return ExecuteAsync(sql, cancellationToken, parameters);
        }

        _deferred.Add(new DeferredStatement(sql, parameters));
        return Task.CompletedTask;
    }

    /// <summary>True once a statement of this transaction reached the database (a deferred one counts when it was sent).</summary>
    public bool AnySent { get; private set; }

    /// <summary>Sends the statements still deferred; the unit's work is not done before they are.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_deferred.Count > 0)
        {
            await using var batch = Batch(null, [], ref cancellationToken);
            try
            {
                await batch.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (Exception e)
            {
                NoteFailure(batch, e);
                throw;
            }
        }
    }

    // ---- statements carried from one unit of a batch to the next (group commit, SqlBackend.GroupCommit.cs)

    /// <summary>
    /// Takes over statements earlier units of the batch deferred and never sent (their writes, their <c>RELEASE</c>):
    /// they go first in this unit's next round trip. Call before any statement of this unit.
    /// </summary>
    internal void Carry(List<DeferredStatement> statements)
    {
        _deferred.AddRange(statements);
        _carried = statements.Count;
    }

    /// <summary>True while statements carried over from earlier units wait unsent.</summary>
    internal bool CarriedUnsent => _carried > 0;

    /// <summary>
    /// When a carried statement was refused: its position among the carried ones (-1 when the driver did not say which
    /// statement failed) and the error. The statements of this unit in that round trip did not run.
    /// </summary>
    internal (int Index, Exception Error)? CarriedFailure { get; private set; }

    /// <summary>Every statement still deferred, carried ones first; this unit forgets them.</summary>
    internal List<DeferredStatement> TakeDeferred()
    {
        var taken = new List<DeferredStatement>(_deferred);
        _deferred.Clear();
        _carried = 0;
        return taken;
    }

    /// <summary>Only the carried statements still unsent (this unit's own are dropped: it failed before sending any).</summary>
    internal List<DeferredStatement> TakeCarried()
    {
        var taken = _deferred.GetRange(0, _carried);
        _deferred.Clear();
        _carried = 0;
        return taken;
    }

    // How many carried statements lead the batch in flight (they are the first commands of it).
    private int _carriedInFlight;

    /// <summary>Tells a refusal of a carried statement (an earlier unit's) from one of this unit's own.</summary>
    private void NoteFailure(DbBatch batch, Exception error)
    {
        if (_carriedInFlight == 0 || error is not DbException failed)
        {
            return;
        }

        var index = dialect.FailedStatement(batch, failed);
        if (index < _carriedInFlight)
        {
            CarriedFailure = (index, error);
        }
    }

    /// <summary>Queues <c>sql</c> (a statement with no parameter and no answer: a savepoint) as <see cref="DeferAsync"/> does.</summary>
    public Task DeferAsync(string sql, CancellationToken cancellationToken) => DeferAsync(sql, cancellationToken, []);

    /// <summary>
    /// The deferred statements and then <paramref name="sql"/> (when given), as one batch; the queue is emptied. A batch
    /// that carries earlier units' statements runs whatever this unit's caller cancels (<paramref name="cancellationToken"/>
    /// becomes none): a cancel must not refuse another unit's write.
    /// </summary>
    private DbBatch Batch(string? sql, (string Name, object? Value)[] parameters, ref CancellationToken cancellationToken)
    {
        var batch = session.Connection.CreateBatch();
        batch.Transaction = transaction;
        foreach (var (deferredSql, deferredParameters) in _deferred)
        {
            batch.BatchCommands.Add(BatchCommand(batch, deferredSql, deferredParameters));
        }

        if (sql is not null)
        {
            batch.BatchCommands.Add(BatchCommand(batch, sql, parameters));
        }

        _deferred.Clear();
        _carriedInFlight = _carried;
        _carried = 0;
        if (_carriedInFlight > 0)
        {
            cancellationToken = CancellationToken.None;
        }

        AnySent = true;
        return batch;
    }

    private static DbBatchCommand BatchCommand(DbBatch batch, string sql, (string Name, object? Value)[] parameters)
    {
        var command = batch.CreateBatchCommand();
        command.CommandText = sql;
        AddParameters(command.Parameters, command.CreateParameter, parameters);
        return command;
    }

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        AnySent = true;
        if (_deferred.Count == 0)
        {
            await using var command = session.Command(transaction, sql, parameters);
            return await command.Command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var batch = Batch(sql, parameters, ref cancellationToken);
        try
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception e)
        {
            NoteFailure(batch, e);
            throw;
        }

        return batch.BatchCommands[^1].RecordsAffected;
    }

    private async Task<object?> ScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        if (_deferred.Count == 0)
        {
            AnySent = true;
            return await ScalarAsync(session, transaction, sql, cancellationToken, parameters);
        }

        var found = await QueryAsync(sql, reader => reader.IsDBNull(0) ? null : reader.GetValue(0), cancellationToken, parameters);
        return found.Count == 0 ? null : found[0];
    }

    private async Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        AnySent = true;
        await using var command = _deferred.Count == 0 ? session.Command(transaction, sql, parameters) : (SqlCommandLease?)null;
        await using var batch = command is null ? Batch(sql, parameters, ref cancellationToken) : null;
        try
        {
            await using var reader = command is { } lease
                ? await lease.Command.ExecuteReaderAsync(cancellationToken)
                : await batch!.ExecuteReaderAsync(cancellationToken);

            // The deferred statements before the query answer no rows; the query's rows are the one result that has columns.
            while (reader.FieldCount == 0 && await reader.NextResultAsync(cancellationToken))
            {
            }

            var result = new List<T>();
            while (await reader.ReadAsync(cancellationToken))
            {
                result.Add(map(reader));
            }

            return result;
        }
        catch (Exception e) when (batch is not null)
        {
            NoteFailure(batch, e);
            throw;
        }
    }

    private async Task<T?> QuerySingleAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        where T : class =>
        (await QueryAsync(sql, map, cancellationToken, parameters)).FirstOrDefault();

    /// <summary>Runs one statement on a connection outside any unit of rows (a pragma, a lock), with a command of its own.</summary>
    public static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = SqlSession.NewCommand(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first column of the first row of one statement on a connection outside any unit of rows, with a command of its own.</summary>
    public static async Task<object?> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = SqlSession.NewCommand(connection, transaction, sql, parameters);
        return Answer(await command.ExecuteScalarAsync(cancellationToken));
    }

    /// <summary>Runs one statement with the session's command for it (kept prepared where the session keeps them).</summary>
    public static async Task ExecuteAsync(SqlSession session, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = session.Command(transaction, sql, parameters);
        await command.Command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first column of the first row of one statement, with the session's command for it.</summary>
    public static async Task<object?> ScalarAsync(SqlSession session, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = session.Command(transaction, sql, parameters);
        return Answer(await command.Command.ExecuteScalarAsync(cancellationToken));
    }

    private static object? Answer(object? scalar) => scalar is DBNull ? null : scalar;

    private const int InListMax = 512;

    /// <summary>
    /// <paramref name="values"/> as <c>IN</c> lists of at most <see cref="InListMax"/> parameters each
    /// (<c>@id0, @id1, ...</c>). Each list is padded with its last value to a size of 1, 8, 64 or 512, so a query runs as
    /// one of four statement texts whatever the count (the databases prepare and cache statements by their text).
    /// </summary>
    private static IEnumerable<(string List, (string Name, object? Value)[] Parameters)> InLists(string prefix, IReadOnlyList<string> values)
    {
        for (var start = 0; start < values.Count; start += InListMax)
        {
            var count = Math.Min(InListMax, values.Count - start);
            var size = count switch { 1 => 1, <= 8 => 8, <= 64 => 64, _ => InListMax };
            var parameters = new (string Name, object? Value)[size];
            for (var i = 0; i < size; i++)
            {
                parameters[i] = (prefix + i.ToString(CultureInfo.InvariantCulture), values[start + Math.Min(i, count - 1)]);
            }

            yield return (string.Join(", ", parameters.Select(p => p.Name)), parameters);
        }
    }

    // ---- column readers: tolerant of each backend's storage type (text or timestamptz, integer or boolean)

    private static string? Text(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetString(i);

    private static byte[]? Bytes(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : (byte[])reader.GetValue(i);

    private static long Int64(DbDataReader reader, int i) => Convert.ToInt64(reader.GetValue(i), CultureInfo.InvariantCulture);

    private static int Int32(DbDataReader reader, int i) => Convert.ToInt32(reader.GetValue(i), CultureInfo.InvariantCulture);

    private static int? Int32OrNull(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : Int32(reader, i);

    private static bool Flag(DbDataReader reader, int i) => reader.GetValue(i) switch
    {
        bool b => b,
        var v => Convert.ToInt64(v, CultureInfo.InvariantCulture) != 0,
    };

    private static DateTimeOffset Time(DbDataReader reader, int i) => reader.GetValue(i) switch
    {
        string s => StorageFormat.ParseTimestamp(s),
        DateTime d => new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc)),
        DateTimeOffset o => o.ToUniversalTime(),
        var v => throw new InvalidDataException($"A timestamp column holds a {v.GetType().Name}."),
    };

    private static DateTimeOffset? TimeOrNull(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : Time(reader, i);

    private static TEnum Enum<TEnum>(DbDataReader reader, int i)
        where TEnum : struct, Enum =>
        System.Enum.Parse<TEnum>(reader.GetString(i), ignoreCase: true);

    private static TEnum? EnumOrNull<TEnum>(DbDataReader reader, int i)
        where TEnum : struct, Enum =>
        reader.IsDBNull(i) ? null : Enum<TEnum>(reader, i);
}

/// <summary>A statement that answers nothing, waiting to go with the transaction's next round trip.</summary>
internal readonly record struct DeferredStatement(string Sql, (string Name, object? Value)[] Parameters);
