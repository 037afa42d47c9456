using System.Data.Common;

namespace RunCommand.Storage.Relational;

/// <summary>
/// What differs between the SQL databases the shared rows (<see cref="SqlRows"/>) run on. The SQL text itself is
/// common (named <c>@parameters</c>, <c>ON CONFLICT</c>, <c>TRUE</c>/<c>FALSE</c>, <c>lower()</c>); the schema is
/// each backend's own (its numbered migration scripts).
/// </summary>
public abstract class SqlDialect
{
    /// <summary>The parameter value a timestamp column takes (ISO-8601 text for SQLite, <c>timestamptz</c> for PostgreSQL).</summary>
    public abstract object ToTimeValue(DateTimeOffset value);

    /// <summary>
    /// The position in <paramref name="batch"/> of the statement the database refused with <paramref name="error"/>, or
    /// -1 when the driver does not tell (the statements before it ran, the ones after it did not).
    /// </summary>
    public virtual int FailedStatement(DbBatch batch, DbException error) =>
        error.BatchCommand is { } command ? batch.BatchCommands.IndexOf(command) : -1;

    /// <summary>
    /// Statements (parameters <c>@vm</c>, <c>@key</c>; answering no column) that lock a run command's VM row, then its
    /// own row and its current execution's, until the transaction ends; none where the database has one writer.
    /// </summary>
    public virtual IReadOnlyList<string> LockRunCommandStatements => [];
}
