using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>
/// This node's hold on background work (deployment runs, fleet runs), so that with several nodes exactly one drives
/// each run and another takes it over when that node dies (docs/scale-out.md, "Leases"). A node holds a run's lease
/// for <see cref="Duration"/> and renews it every <see cref="RenewInterval"/> while it drives the run, so a dead
/// node's runs are free again after at most <see cref="Duration"/>, and another node's next scan (every
/// <see cref="RenewInterval"/>) claims them: taken over within 13 s.
/// </summary>
public sealed class WorkLeases(ILeaseStore store, TimeProvider time)
{
    public static readonly TimeSpan Duration = TimeSpan.FromSeconds(10);

    /// <summary>How often a driving node renews, and how often every node looks for work whose lease ran out.</summary>
    public static readonly TimeSpan RenewInterval = TimeSpan.FromSeconds(3);

    /// <summary>This server process; a restarted node is a new owner (its old leases run out like a dead node's).</summary>
    public string NodeId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Takes or renews the lease; false when another node holds it (then do not touch the run).</summary>
    public Task<bool> HoldAsync(LeaseKind kind, string key, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return store.TryHoldAsync(kind, key, NodeId, now, now + Duration, cancellationToken);
    }

    /// <summary>True when no live node holds the lease (this node may claim it).</summary>
    public async Task<bool> IsFreeAsync(LeaseKind kind, string key, CancellationToken cancellationToken) =>
        LeaseRules.MayHold(await store.GetAsync(kind, key, cancellationToken), NodeId, time.GetUtcNow());

    /// <summary>Gives up the lease of finished work.</summary>
    public Task ReleaseAsync(LeaseKind kind, string key, CancellationToken cancellationToken) =>
        store.ReleaseAsync(kind, key, NodeId, cancellationToken);
}
