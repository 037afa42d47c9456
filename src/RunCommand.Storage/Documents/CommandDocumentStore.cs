using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>Custom command documents over any backend; ids compare case-insensitively, a replace keeps the creation time.</summary>
public sealed class CommandDocumentStore(IStorageBackend backend) : ICommandDocumentStore
{
    public Task<bool> PutCommandDocumentAsync(RunCommandDocument document, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var existing = await rows.GetCommandDocumentAsync(document.Id, cancellationToken);
            await rows.SaveCommandDocumentAsync(new CommandDocumentRecord { Document = document, Created = existing?.Created ?? now, Updated = now }, cancellationToken);
            return existing is null;
        }, cancellationToken);

    public Task<CommandDocumentRecord?> GetCommandDocumentAsync(string commandId, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetCommandDocumentAsync(commandId, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<CommandDocumentRecord>> ListCommandDocumentsAsync(CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListCommandDocumentsAsync(cancellationToken), cancellationToken);

    public Task<bool> DeleteCommandDocumentAsync(string commandId, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.DeleteCommandDocumentAsync(commandId, cancellationToken), cancellationToken);
}
