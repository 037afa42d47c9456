namespace RunCommand.Storage;

/// <summary>The activity log over any backend: append and query, never change.</summary>
public sealed class ActivityLogStore(IStorageBackend backend) : IActivityLogStore
{
    public Task AppendAuditAsync(AuditRecord entry, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            await AppendAsync(rows, entry, cancellationToken);
            return true;
        }, cancellationToken);

    /// <summary>Appends <paramref name="entry"/> inside the caller's transaction (a write that logs itself, such as a run-command PUT).</summary>
    internal static Task AppendAsync(IRows rows, AuditRecord entry, CancellationToken cancellationToken) =>
        // The resource group is kept lower-cased so a filter matches whatever casing the request used.
        rows.InsertAuditAsync(entry with { ResourceGroup = entry.ResourceGroup?.ToLowerInvariant() }, cancellationToken);

    public Task<IReadOnlyList<AuditRecord>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListAuditAsync(query with
        {
            ResourceGroup = query.ResourceGroup?.ToLowerInvariant(),
            Caller = query.Caller?.ToLowerInvariant(),
        }, cancellationToken), cancellationToken);
}
