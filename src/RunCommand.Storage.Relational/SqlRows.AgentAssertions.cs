namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>agent_assertions</c>: assertions already accepted, until they expire.</summary>
public sealed partial class SqlRows
{
    public async Task<bool> InsertAgentAssertionAsync(byte[] assertionId, DateTimeOffset expires, CancellationToken cancellationToken) =>
        await ExecuteAsync("INSERT INTO agent_assertions(id, expires) VALUES(@id, @expires) ON CONFLICT(id) DO NOTHING", cancellationToken,
            ("@id", assertionId), ("@expires", Time(expires))) == 1;

    public Task<int> DeleteAgentAssertionsExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM agent_assertions WHERE expires < @now", cancellationToken, ("@now", Time(now)));
}
