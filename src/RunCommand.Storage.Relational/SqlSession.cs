using System.Data.Common;

namespace RunCommand.Storage.Relational;

/// <summary>
/// A connection a backend lends one unit of work (a read, a batch of writes, a migration) and the way the unit's
/// statements become commands. This base keeps nothing: a new command for every statement, and the connection closed
/// (given back to the driver's pool) when the unit is done. That is PostgreSQL's way: Npgsql pools connections and
/// prepares statements itself. A backend that keeps its connections open and its statements prepared (SQLite) overrides
/// <see cref="Command"/> and <see cref="DisposeAsync"/>.
/// </summary>
public class SqlSession(DbConnection connection) : IAsyncDisposable
{
    public DbConnection Connection => connection;

    /// <summary>
    /// True once the unit that used this connection failed: it may hold a half-done transaction or statement, so a backend
    /// that keeps connections must close it instead of lending it again.
    /// </summary>
    public bool Broken { get; private set; }

    public void MarkBroken() => Broken = true;

    /// <summary>A command that runs <paramref name="sql"/> in <paramref name="transaction"/> with these values; disposing the lease ends its use.</summary>
    public virtual SqlCommandLease Command(DbTransaction? transaction, string sql, (string Name, object? Value)[] parameters) =>
        new(NewCommand(connection, transaction, sql, parameters), owned: true);

    /// <summary>A command of its own for one statement; the caller disposes it.</summary>
    internal static DbCommand NewCommand(DbConnection connection, DbTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        SqlRows.AddParameters(command.Parameters, command.CreateParameter, parameters);
        return command;
    }

    /// <summary>
    /// Gives <paramref name="command"/> these parameter values: the parameters it has are reused when their names are the
    /// same (a command used again for the same statement), replaced otherwise.
    /// </summary>
    protected static void SetParameters(DbCommand command, (string Name, object? Value)[] parameters)
    {
        var existing = command.Parameters;
        var same = existing.Count == parameters.Length;
        for (var i = 0; same && i < parameters.Length; i++)
        {
            same = string.Equals(existing[i].ParameterName, parameters[i].Name, StringComparison.Ordinal);
        }

        if (same)
        {
            for (var i = 0; i < parameters.Length; i++)
            {
                existing[i].Value = parameters[i].Value ?? DBNull.Value;
            }

            return;
        }

        existing.Clear();
        SqlRows.AddParameters(existing, command.CreateParameter, parameters);
    }

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return connection.DisposeAsync();
    }
}

/// <summary>A command lent for one statement: disposed after it unless its session keeps it prepared for the next use.</summary>
public readonly struct SqlCommandLease(DbCommand command, bool owned) : IAsyncDisposable
{
    public DbCommand Command => command;

    public ValueTask DisposeAsync() => owned ? command.DisposeAsync() : ValueTask.CompletedTask;
}
