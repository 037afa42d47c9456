using System.Data.Common;
using System.Globalization;

namespace RunCommand.Storage.Relational;

/// <summary>
/// The rows of one SQL transaction: each member is one or a few statements, no rule. Split by area
/// (<c>SqlRows.*.cs</c>); this part holds the plumbing and the column readers every area uses.
/// </summary>
public sealed partial class SqlRows(DbConnection connection, DbTransaction transaction, SqlDialect dialect) : IRows
{
    private readonly HashSet<string> _topics = new(StringComparer.Ordinal);

    /// <summary>Topics notified by this transaction, each once.</summary>
    public IReadOnlyCollection<string> Topics => _topics;

    public void Notify(string topic) => _topics.Add(topic);

    private object? Time(DateTimeOffset? value) => value is { } v ? dialect.ToTimeValue(v) : null;

    private DbCommand Command(string sql, params (string Name, object? Value)[] parameters) => Command(connection, transaction, sql, parameters);

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private Task<object?> ScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        ScalarAsync(connection, transaction, sql, cancellationToken, parameters);

    private async Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(map(reader));
        }

        return result;
    }

    private async Task<T?> QuerySingleAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        where T : class =>
        (await QueryAsync(sql, map, cancellationToken, parameters)).FirstOrDefault();

    public static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<object?> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
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
