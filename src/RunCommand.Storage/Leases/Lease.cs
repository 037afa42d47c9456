namespace RunCommand.Storage;

/// <summary>Background work that one node at a time drives, or a node's own liveness, claimed with a <see cref="Lease"/>.</summary>
public enum LeaseKind
{
    /// <summary>A deployment's run (its steps); the key is the deployment's key.</summary>
    Deployment,

    /// <summary>A fleet run's orchestration (its targets); the key is the fleet run's key.</summary>
    FleetRun,

    /// <summary>
    /// A server node's word that the agent polls it holds (<c>vms.held_by</c>) are still held; the key and the owner are
    /// the node's id. Renewed while the node holds polls; a dead node's runs out, and its machines count by their last contact.
    /// </summary>
    Node,
}

/// <summary>
/// Who drives a piece of background work, and until when. <see cref="Owner"/> is a node id (random per server
/// process); <see cref="Until"/> is the deadline after which any node may claim it. One row per work item.
/// </summary>
public sealed record Lease(LeaseKind Kind, string Key, string Owner, DateTimeOffset Until);

/// <summary>
/// The rule of leases, once for every backend: a node may hold a lease that nobody holds, that it holds itself, or
/// whose deadline has passed. A backend only reads and writes the row, atomically with this decision.
/// </summary>
public static class LeaseRules
{
    public static bool MayHold(Lease? current, string owner, DateTimeOffset now) =>
        current is null || current.Owner == owner || current.Until <= now;
}
