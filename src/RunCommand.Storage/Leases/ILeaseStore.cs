namespace RunCommand.Storage;

/// <summary>Claims, renews and gives up leases on background work (deployment runs, fleet runs).</summary>
public interface ILeaseStore
{
    /// <summary>
    /// Takes or renews the lease of <paramref name="kind"/>/<paramref name="key"/> for <paramref name="owner"/> until
    /// <paramref name="until"/>, when <see cref="LeaseRules.MayHold"/> allows it. False: another node holds it.
    /// </summary>
    Task<bool> TryHoldAsync(LeaseKind kind, string key, string owner, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>Gives the lease up when <paramref name="owner"/> holds it (the work is done); nothing otherwise.</summary>
    Task ReleaseAsync(LeaseKind kind, string key, string owner, CancellationToken cancellationToken);

    /// <summary>The lease as stored, or null.</summary>
    Task<Lease?> GetAsync(LeaseKind kind, string key, CancellationToken cancellationToken);
}

/// <summary>Rows of <c>leases</c>.</summary>
public interface ILeaseRows
{
    Task<Lease?> GetLeaseAsync(LeaseKind kind, string key, CancellationToken cancellationToken);

    /// <summary>Inserts or replaces the lease row.</summary>
    Task SaveLeaseAsync(Lease lease, CancellationToken cancellationToken);

    Task DeleteLeaseAsync(LeaseKind kind, string key, CancellationToken cancellationToken);
}
