namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>leases</c>.</summary>
public sealed partial class SqlRows
{
    public Task<Lease?> GetLeaseAsync(LeaseKind kind, string key, CancellationToken cancellationToken) =>
        QuerySingleAsync("SELECT owner, until FROM leases WHERE kind = @kind AND key = @key",
            reader => new Lease(kind, key, reader.GetString(0), Time(reader, 1)), cancellationToken, ("@kind", kind.ToString()), ("@key", key));

    public async Task SaveLeaseAsync(Lease lease, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO leases(kind, key, owner, until) VALUES(@kind, @key, @owner, @until)
            ON CONFLICT(kind, key) DO UPDATE SET owner = excluded.owner, until = excluded.until
            """, cancellationToken, ("@kind", lease.Kind.ToString()), ("@key", lease.Key), ("@owner", lease.Owner), ("@until", Time(lease.Until)));

    public async Task DeleteLeaseAsync(LeaseKind kind, string key, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM leases WHERE kind = @kind AND key = @key", cancellationToken, ("@kind", kind.ToString()), ("@key", key));
}
