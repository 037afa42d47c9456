namespace RunCommand.Storage;

/// <summary>
/// A write was refused because the store's disk (or quota) is full. Nothing of that write was kept and what was stored
/// before is intact, so the caller may retry the same write once space returns. Every backend translates its own
/// "disk full" error into this one; the API answers it 507 InsufficientStorage.
/// </summary>
public sealed class StorageFullException(Exception inner)
    : IOException("The server's storage is full; the write was not stored.", inner);
