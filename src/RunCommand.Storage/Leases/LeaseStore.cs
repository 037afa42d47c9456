namespace RunCommand.Storage;

/// <summary>
/// <see cref="ILeaseStore"/> over any backend: read the row, apply <see cref="LeaseRules"/>, write, in one write
/// transaction. On PostgreSQL that transaction is SERIALIZABLE, so of two nodes claiming one lease at once one commits
/// and the other is retried, then finds the lease held.
/// </summary>
public sealed class LeaseStore(IStorageBackend backend) : ILeaseStore
{
    public Task<bool> TryHoldAsync(LeaseKind kind, string key, string owner, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            if (!LeaseRules.MayHold(await rows.GetLeaseAsync(kind, key, cancellationToken), owner, now))
            {
                return false;
            }

            await rows.SaveLeaseAsync(new Lease(kind, key, owner, until), cancellationToken);
            return true;
        }, cancellationToken);

    public Task ReleaseAsync(LeaseKind kind, string key, string owner, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            if ((await rows.GetLeaseAsync(kind, key, cancellationToken))?.Owner == owner)
            {
                await rows.DeleteLeaseAsync(kind, key, cancellationToken);
            }

            return true;
        }, cancellationToken);

    public Task<Lease?> GetAsync(LeaseKind kind, string key, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetLeaseAsync(kind, key, cancellationToken), cancellationToken);
}
