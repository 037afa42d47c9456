using System.Data.Common;

namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>command_documents</c>.</summary>
public sealed partial class SqlRows
{
    private static CommandDocumentRecord ReadDocument(DbDataReader reader) => new()
    {
        Document = StorageFormat.DeserializeDocument(reader.GetString(0)),
        Created = Time(reader, 1),
        Updated = Time(reader, 2),
    };

    public Task<CommandDocumentRecord?> GetCommandDocumentAsync(string commandId, CancellationToken cancellationToken) =>
        QuerySingleAsync("SELECT document, created, updated FROM command_documents WHERE key = @key", ReadDocument, cancellationToken, ("@key", commandId.ToLowerInvariant()));

    public async Task<IReadOnlyList<CommandDocumentRecord>> ListCommandDocumentsAsync(CancellationToken cancellationToken) =>
        await QueryAsync("SELECT document, created, updated FROM command_documents ORDER BY key", ReadDocument, cancellationToken);

    public async Task SaveCommandDocumentAsync(CommandDocumentRecord document, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO command_documents(key, document, created, updated) VALUES(@key, @doc, @created, @updated)
            ON CONFLICT(key) DO UPDATE SET document = excluded.document, created = excluded.created, updated = excluded.updated
            """, cancellationToken, ("@key", document.Document.Id.ToLowerInvariant()), ("@doc", StorageFormat.Serialize(document.Document)),
            ("@created", Time(document.Created)), ("@updated", Time(document.Updated)));

    public async Task<bool> DeleteCommandDocumentAsync(string commandId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM command_documents WHERE key = @key", cancellationToken, ("@key", commandId.ToLowerInvariant())) > 0;
}
