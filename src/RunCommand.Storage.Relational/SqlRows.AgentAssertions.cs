namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>agent_assertions</c>: assertions already accepted, until they expire.</summary>
public sealed partial class SqlRows
{
    public async Task<bool> InsertAgentAssertionAsync(byte[] assertionId, DateTimeOffset expires, CancellationToken cancellationToken) =>
        await ExecuteAsync("INSERT INTO agent_assertions(id, expires) VALUES(@id, @expires) ON CONFLICT(id) DO NOTHING", cancellationToken,
            ("@id", assertionId), ("@expires", Time(expires))) == 1;

    public Task<int> DeleteAgentAssertionsExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM agent_assertions WHERE id IN (SELECT id FROM agent_assertions WHERE expires < @now LIMIT @limit)", cancellationToken,
            ("@now", Time(now)), ("@limit", limit));
}
