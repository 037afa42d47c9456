namespace RunCommand.Storage;

/// <summary>
/// A write (or read) kept losing to concurrent transactions (serialization failures, deadlocks, a busy database) for
/// longer than the backend's retry budget. Nothing of it was kept, so the caller may send it again; the API answers
/// it 503 ServiceUnavailable with <c>Retry-After</c>, never 500.
/// </summary>
public sealed class StorageBusyException(Exception inner)
    : IOException("The database is busy with conflicting writes; nothing was stored. Retry shortly.", inner);
