using System.Data.Common;
using Microsoft.Data.Sqlite;
using RunCommand.Storage.Relational;

namespace RunCommand.Storage.Sqlite;

/// <summary>
/// One kept-open SQLite connection and its prepared statements: a command per SQL text, made (and prepared by SQLite,
/// on its first run) once and run again with new parameter values, up to <see cref="MaxStatements"/>, the least
/// recently used dropped first (some statements are built for a number of keys). Microsoft.Data.Sqlite keeps a
/// command's <c>sqlite3_stmt</c> while its text and connection stay the same and binds the parameters again at each run;
/// disposing its reader resets the statement, so a kept statement holds no read snapshot between units
/// (docs/storage.md, "Connections and prepared statements on SQLite"). Used by one unit at a time.
/// </summary>
internal sealed class SqliteSession(SqliteConnection connection, SqliteSessionPool pool, bool isWriter) : SqlSession(connection)
{
    public const int MaxStatements = 256;

    private readonly Dictionary<string, LinkedListNode<SqliteCommand>> _statements = new(StringComparer.Ordinal);
    private readonly LinkedList<SqliteCommand> _recent = new();

    public bool IsWriter => isWriter;

    /// <summary>Commands made for a SQL text not kept yet on this connection: each is one prepare of a statement by SQLite.</summary>
    public int StatementsPrepared { get; private set; }

    /// <summary>The command kept for <paramref name="sql"/>, if any; for tests.</summary>
    public SqliteCommand? Kept(string sql) => _statements.TryGetValue(sql, out var node) ? node.Value : null;

    public override SqlCommandLease Command(DbTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        if (_statements.TryGetValue(sql, out var node))
        {
            _recent.Remove(node);
            _recent.AddFirst(node);
        }
        else
        {
            if (_statements.Count == MaxStatements)
            {
                var oldest = _recent.Last!;
                _recent.RemoveLast();
                _statements.Remove(oldest.Value.CommandText);
                oldest.Value.Dispose();
            }

            var created = connection.CreateCommand();
            created.CommandText = sql;
            node = _recent.AddFirst(created);
            _statements.Add(sql, node);
            StatementsPrepared++;
        }

        var command = node.Value;
        command.Transaction = (SqliteTransaction?)transaction;
        SetParameters(command, parameters);
        return new SqlCommandLease(command, owned: false);
    }

    /// <summary>Gives the connection back to the pool, which keeps it or closes it.</summary>
    public override ValueTask DisposeAsync()
    {
        pool.Return(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Finalizes every kept statement and closes the connection (a transaction still open is rolled back).</summary>
    public void Close()
    {
        foreach (var command in _recent)
        {
            command.Dispose();
        }

        _recent.Clear();
        _statements.Clear();
        connection.Dispose();
    }
}
