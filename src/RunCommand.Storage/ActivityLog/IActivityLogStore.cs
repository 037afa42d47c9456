namespace RunCommand.Storage;

/// <summary>The append-only activity log.</summary>
public interface IActivityLogStore
{
    /// <summary>Appends an activity log entry. Entries are never changed or removed through this interface.</summary>
    Task AppendAuditAsync(AuditRecord entry, CancellationToken cancellationToken);

    /// <summary>Activity log entries matching the query, newest first.</summary>
    Task<IReadOnlyList<AuditRecord>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken);
}
