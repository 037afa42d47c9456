namespace RunCommand.Storage.Sqlite;

/// <summary>Leases on background work (<see cref="ILeaseStore"/>): one row per work item, the rule in <see cref="LeaseRules"/>.</summary>
public sealed partial class SqliteRunCommandStore : ILeaseStore
{
    private const string LeaseSchema = """
        CREATE TABLE IF NOT EXISTS leases(
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            owner TEXT NOT NULL,
            until TEXT NOT NULL,
            PRIMARY KEY(kind, key));
        """;

    public Task<bool> TryHoldAsync(LeaseKind kind, string key, string owner, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            if (!LeaseRules.MayHold(await ReadLeaseAsync(connection, transaction, kind, key, cancellationToken), owner, now))
            {
                return false;
            }

            await ExecuteAsync(connection, transaction, """
                INSERT INTO leases(kind, key, owner, until) VALUES($kind, $key, $owner, $until)
                ON CONFLICT(kind, key) DO UPDATE SET owner = excluded.owner, until = excluded.until
                """, cancellationToken, ("$kind", kind.ToString()), ("$key", key), ("$owner", owner), ("$until", StorageFormat.Timestamp(until)));
            return true;
        }, cancellationToken);

    public Task ReleaseAsync(LeaseKind kind, string key, string owner, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM leases WHERE kind = $kind AND key = $key AND owner = $owner",
                cancellationToken, ("$kind", kind.ToString()), ("$key", key), ("$owner", owner));
            return true;
        }, cancellationToken);

    public async Task<Lease?> GetAsync(LeaseKind kind, string key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadLeaseAsync(connection, null, kind, key, cancellationToken);
    }

    private static async Task<Lease?> ReadLeaseAsync(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction? transaction, LeaseKind kind, string key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT owner, until FROM leases WHERE kind = $kind AND key = $key", ("$kind", kind.ToString()), ("$key", key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new Lease(kind, key, reader.GetString(0), StorageFormat.ParseTimestamp(reader.GetString(1))) : null;
    }
}
