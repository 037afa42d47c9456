namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>audit</c>, the append-only activity log (each backend's schema refuses updates and deletes).</summary>
public sealed partial class SqlRows
{
    public Task InsertAuditAsync(AuditRecord entry, CancellationToken cancellationToken) =>
        DeferAsync("""
            INSERT INTO audit(id, time, caller_id, caller, action, resource_id, resource_group, method, status, client_address, correlation_id)
            VALUES(@id, @t, @cid, @c, @a, @r, @rg, @m, @s, @ip, @corr)
            """, cancellationToken, ("@id", entry.Id), ("@t", Time(entry.Time)), ("@cid", entry.CallerId), ("@c", entry.Caller),
            ("@a", entry.Action), ("@r", entry.ResourceId), ("@rg", entry.ResourceGroup), ("@m", entry.HttpMethod),
            ("@s", entry.StatusCode), ("@ip", entry.ClientAddress), ("@corr", entry.CorrelationId));

    public async Task<IReadOnlyList<AuditRecord>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken) =>
        await QueryAsync("SELECT id, time, caller_id, caller, action, resource_id, resource_group, method, status, client_address, correlation_id FROM audit WHERE TRUE"
            + (query.From is null ? "" : " AND time >= @from")
            + (query.To is null ? "" : " AND time <= @to")
            + (query.ResourceGroup is null ? "" : " AND resource_group = @rg")
            + (query.Caller is null ? "" : " AND (lower(caller) = @caller OR caller_id = @caller)")
            + " ORDER BY seq DESC LIMIT @max", reader => new AuditRecord
            {
                Id = reader.GetString(0),
                Time = Time(reader, 1),
                CallerId = Text(reader, 2),
                Caller = Text(reader, 3),
                Action = reader.GetString(4),
                ResourceId = reader.GetString(5),
                ResourceGroup = Text(reader, 6),
                HttpMethod = reader.GetString(7),
                StatusCode = Int32(reader, 8),
                ClientAddress = Text(reader, 9),
                CorrelationId = Text(reader, 10),
            }, cancellationToken, ("@from", Time(query.From)), ("@to", Time(query.To)), ("@rg", query.ResourceGroup), ("@caller", query.Caller), ("@max", query.Max));
}
