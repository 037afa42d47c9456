using System.Collections.Concurrent;

namespace RunCommand.Agent.State;

/// <summary>The in-memory twin of <see cref="FileExecutionStateStore"/>, for tests.</summary>
public sealed class InMemoryExecutionStateStore : IExecutionStateStore
{
    private readonly ConcurrentDictionary<string, LocalExecutionRecord> _records = new(StringComparer.Ordinal);

    public bool TryAccept(LocalExecutionRecord record) => _records.TryAdd(record.ExecutionId, record);

    public void Save(LocalExecutionRecord record)
    {
        if (!_records.ContainsKey(record.ExecutionId))
        {
            throw new InvalidOperationException($"Execution {record.ExecutionId} was never accepted.");
        }

        _records[record.ExecutionId] = record;
    }

    public LocalExecutionRecord? Get(string executionId) => _records.GetValueOrDefault(executionId);

    public IReadOnlyList<string> ListIds() => [.. _records.Keys];
}
