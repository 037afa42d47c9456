namespace RunCommand.Storage;

/// <summary>
/// The run command verbs over any backend. Each verb is one transaction; the rules (unchanged fingerprint, per-VM
/// limit, a delete waits for the execution to end) are here, the backend only moves rows. Watchers are woken
/// after the commit, so nobody sees work that could still vanish.
/// </summary>
public sealed class RunCommandStore(IStorageBackend backend) : IRunCommandStore
{
    public Task<WriteOutcome> PutRunCommandAsync(RunCommandWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteRunCommandAsync(write.Command, rows => RunCommandRules.PutAsync(rows, write, newExecutionId, newOperationId, now, cancellationToken), cancellationToken);

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
            // A few statements for the whole set, not up to three per execution: a fleet run's view reads every target's
            // execution and tails, again at every burst of changes while a client follows the run.
            var executions = await rows.GetExecutionsAsync([.. executionIds.Distinct(StringComparer.Ordinal)], cancellationToken);
            var stdout = await TailsAsync(rows, executions, OutputStream.Stdout, tailBytes, cancellationToken);
            var stderr = await TailsAsync(rows, executions, OutputStream.Stderr, tailBytes, cancellationToken);
            return executions.ToDictionary(e => e.ExecutionId,
                e => new ExecutionWithTails(e, stdout.GetValueOrDefault(e.ExecutionId) ?? [], stderr.GetValueOrDefault(e.ExecutionId) ?? []), StringComparer.Ordinal);
        }, cancellationToken);

    /// <summary>The last <paramref name="tailBytes"/> stored bytes of <paramref name="stream"/> of each execution that has any.</summary>
    private static async Task<Dictionary<string, byte[]>> TailsAsync(IRows rows, IReadOnlyList<ExecutionRecord> executions, OutputStream stream, int tailBytes, CancellationToken cancellationToken)
    {
        var tails = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var lengths = executions.Where(e => Length(e, stream) > 0).ToDictionary(e => e.ExecutionId, e => Length(e, stream), StringComparer.Ordinal);
        if (tailBytes <= 0 || lengths.Count == 0)
        {
            return tails;
        }

        foreach (var chunks in (await rows.ReadOutputTailsAsync([.. lengths.Keys], stream, tailBytes, cancellationToken)).GroupBy(c => c.ExecutionId, StringComparer.Ordinal))
        {
            var length = lengths[chunks.Key];
            tails[chunks.Key] = Slice([.. chunks.Select(c => (c.Start, c.Data))], Math.Max(0, length - tailBytes), length);
        }

        return tails;
    }

    private static long Length(ExecutionRecord execution, OutputStream stream) => stream == OutputStream.Stdout ? execution.StdoutLength : execution.StderrLength;

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

    private static async Task<byte[]> ReadOutputAsync(IRows rows, string executionId, OutputStream stream, long offset, int maxBytes, CancellationToken cancellationToken) =>
        Slice(await rows.ReadOutputAsync(executionId, stream, offset, offset + maxBytes, cancellationToken), offset, offset + maxBytes);

    /// <summary>The bytes [<paramref name="from"/>, <paramref name="to"/>) of a stream, from its chunks (by start offset) that overlap them.</summary>
    private static byte[] Slice(IReadOnlyList<(long Start, byte[] Data)> chunks, long from, long to)
    {
        using var buffer = new MemoryStream();
        foreach (var (start, data) in chunks)
        {
            var skip = (int)Math.Max(0, from - start);
            var take = (int)Math.Min(data.Length - skip, to - (start + skip));
            if (take > 0)
            {
                buffer.Write(data, skip, take);
            }
        }

        return buffer.ToArray();
    }
}
