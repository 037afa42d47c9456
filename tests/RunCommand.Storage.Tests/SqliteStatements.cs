using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace RunCommand.Storage.Tests;

/// <summary>
/// SQLite's own view of the statements prepared on a connection (<c>sqlite3_next_stmt</c>), to tell a statement run
/// again from one prepared again. SQLitePCL only finds statements prepared after <see cref="Track"/>.
/// </summary>
internal static class SqliteStatements
{
    /// <summary>SQLITE_STMTSTATUS_RUN: how many times the statement ran (SQLitePCL has no name for it).</summary>
    private const int RunCount = 6;

    public sealed record Statement(IntPtr Handle, string Sql, int Runs);

    /// <summary>Lets <see cref="Prepared"/> see the statements prepared on <paramref name="connection"/> from now on.</summary>
    public static void Track(SqliteConnection connection) => connection.Handle!.enable_sqlite3_next_stmt(true);

    public static IReadOnlyList<Statement> Prepared(SqliteConnection connection)
    {
        var found = new List<Statement>();
        for (var stmt = raw.sqlite3_next_stmt(connection.Handle, null); stmt is not null; stmt = raw.sqlite3_next_stmt(connection.Handle, stmt))
        {
            found.Add(new Statement(stmt.DangerousGetHandle(), raw.sqlite3_sql(stmt).utf8_to_string(), raw.sqlite3_stmt_status(stmt, RunCount, 0)));
        }

        return found;
    }
}
