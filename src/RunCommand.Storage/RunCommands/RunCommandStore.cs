namespace RunCommand.Storage;

/// <summary>
/// The run command verbs over any backend. Each verb is one transaction; the rules (unchanged fingerprint, per-VM
/// limit, a delete waits for the execution to end) are here, the backend only moves rows. Watchers are woken
/// after the commit, so nobody sees work that could still vanish.
/// </summary>
public sealed class RunCommandStore(IStorageBackend backend) : IRunCommandStore
{
    public Task<WriteOutcome> PutRunCommandAsync(RunCommandWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => RunCommandRules.PutAsync(rows, write, newExecutionId, newOperationId, now, cancellationToken), cancellationToken);

    public Task<RunCommandRecord?> GetRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetRunCommandAsync(command, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<RunCommandRecord>> ListRunCommandsAsync(VmKey vm, string? afterName, int pageSize, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListRunCommandsAsync(vm, afterName?.ToLowerInvariant(), pageSize, cancellationToken), cancellationToken);

    public Task<DeleteOutcome> DeleteRunCommandAsync(RunCommandKey command, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var existing = await rows.GetRunCommandAsync(command, cancellationToken);
            if (existing is null)
            {
                return new DeleteOutcome(DeleteOutcomeKind.NotFound, null);
            }

            if (existing.Deleting)
            {
                // A second delete while the first waits for the agent joins the first.
                return new DeleteOutcome(DeleteOutcomeKind.Accepted, existing.OperationId);
            }

            await rows.InsertOperationAsync(new OperationRecord
            {
                OperationId = newOperationId,
                Kind = OperationKind.Delete,
                ResourceId = existing.Command.ResourceId,
                Created = now,
            }, cancellationToken);
            await rows.SaveRunCommandAsync(RunCommandRow.From(existing) with { Deleting = true, OperationId = newOperationId }, cancellationToken);
            if (await ExecutionRules.StopAsync(rows, existing.Execution, "Canceled: the run command was deleted", now, cancellationToken))
            {
                await ExecutionRules.RemoveAsync(rows, existing.Command, newOperationId, now, cancellationToken);
            }
            else
            {
                // The agent learns of the cancel from its goal state: a new version wakes its long poll at once.
                await ExecutionRules.TellAgentAsync(rows, existing.Command.Vm, cancellationToken);
            }

            return new DeleteOutcome(DeleteOutcomeKind.Accepted, newOperationId);
        }, cancellationToken);

    public Task<OperationRecord?> GetOperationAsync(string operationId, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetOperationAsync(operationId, cancellationToken), cancellationToken);

    public Task<ExecutionRecord?> GetExecutionAsync(string executionId, CancellationToken cancellationToken) =>
        backend.ReadAsync(async rows => (await rows.GetExecutionAsync(executionId, cancellationToken))?.Execution, cancellationToken);

    public Task<bool> StartActionRunAsync(ActionRunWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            if (await rows.GetVmAsync(write.Vm, cancellationToken) is null)
            {
                return false;
            }

            var command = new RunCommandKey(write.Vm, write.RunCommandName);
            await rows.InsertExecutionAsync(write.Vm, new NewExecution { ExecutionId = newExecutionId, Command = command, Spec = write.Spec, Created = now }, cancellationToken);
            await rows.InsertOperationAsync(new OperationRecord
            {
                OperationId = newOperationId,
                Kind = OperationKind.Action,
                ResourceId = command.ResourceId,
                ExecutionId = newExecutionId,
                Created = now,
            }, cancellationToken);
            await ExecutionRules.TellAgentAsync(rows, write.Vm, cancellationToken);
            return true;
        }, cancellationToken);

    public Task<bool> CancelExecutionAsync(string executionId, string message, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            if (await rows.GetExecutionAsync(executionId, cancellationToken) is not { } found || found.Execution.IsTerminal)
            {
                return false;
            }

            var (execution, command) = found;
            if (!await ExecutionRules.StopAsync(rows, execution, message, now, cancellationToken))
            {
                // The agent learns of the cancel from its goal state.
                await ExecutionRules.TellAgentAsync(rows, command.Vm, cancellationToken);
            }

            return true;
        }, cancellationToken);

    public Task<IReadOnlyDictionary<string, ExecutionWithTails>> GetExecutionsAsync(IReadOnlyCollection<string> executionIds, int tailBytes, CancellationToken cancellationToken) =>
        backend.ReadAsync<IReadOnlyDictionary<string, ExecutionWithTails>>(async rows =>
        {
            var found = new Dictionary<string, ExecutionWithTails>(executionIds.Count, StringComparer.Ordinal);
            foreach (var executionId in executionIds)
            {
                if (await rows.GetExecutionAsync(executionId, cancellationToken) is not { Execution: var execution })
                {
                    continue;
                }

                found[executionId] = new ExecutionWithTails(
                    execution,
                    await TailAsync(rows, execution, OutputStream.Stdout, tailBytes, cancellationToken),
                    await TailAsync(rows, execution, OutputStream.Stderr, tailBytes, cancellationToken));
            }

            return found;
        }, cancellationToken);

    public Task<IReadOnlyDictionary<ExecutionState, long>> CountRunCommandsByStateAsync(CancellationToken cancellationToken) =>
        backend.ReadAsync<IReadOnlyDictionary<ExecutionState, long>>(async rows =>
        {
            var counts = Enum.GetValues<ExecutionState>().ToDictionary(state => state, _ => 0L);
            foreach (var (state, count) in await rows.CountRunCommandsByStateAsync(cancellationToken))
            {
                counts[state] = count;
            }

            return counts;
        }, cancellationToken);

    public Task<byte[]> ReadOutputAsync(string executionId, OutputStream stream, long offset, int maxBytes, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => ReadOutputAsync(rows, executionId, stream, offset, maxBytes, cancellationToken), cancellationToken);

    private static Task<byte[]> TailAsync(IRows rows, ExecutionRecord execution, OutputStream stream, int tailBytes, CancellationToken cancellationToken)
    {
        var length = stream == OutputStream.Stdout ? execution.StdoutLength : execution.StderrLength;
        var from = Math.Max(0, length - tailBytes);
        return length == from ? Task.FromResult<byte[]>([]) : ReadOutputAsync(rows, execution.ExecutionId, stream, from, (int)(length - from), cancellationToken);
    }

    private static async Task<byte[]> ReadOutputAsync(IRows rows, string executionId, OutputStream stream, long offset, int maxBytes, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        foreach (var (start, data) in await rows.ReadOutputAsync(executionId, stream, offset, offset + maxBytes, cancellationToken))
        {
            var from = (int)Math.Max(0, offset - start);
            var take = (int)Math.Min(data.Length - from, offset + maxBytes - (start + from));
            buffer.Write(data, from, take);
        }

        return buffer.ToArray();
    }
}
