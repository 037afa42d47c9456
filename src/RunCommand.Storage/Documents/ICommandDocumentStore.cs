using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>Custom command documents (built-in ones live in code).</summary>
public interface ICommandDocumentStore
{
    /// <summary>Creates or replaces a custom command document (ids compare case-insensitively); true when it was new.</summary>
    Task<bool> PutCommandDocumentAsync(RunCommandDocument document, DateTimeOffset now, CancellationToken cancellationToken);

    Task<CommandDocumentRecord?> GetCommandDocumentAsync(string commandId, CancellationToken cancellationToken);

    /// <summary>Every custom command document, ordered by id (case-insensitive).</summary>
    Task<IReadOnlyList<CommandDocumentRecord>> ListCommandDocumentsAsync(CancellationToken cancellationToken);

    /// <summary>Removes a custom command document; false when there was none. Run commands already written keep the script they resolved.</summary>
    Task<bool> DeleteCommandDocumentAsync(string commandId, CancellationToken cancellationToken);
}
