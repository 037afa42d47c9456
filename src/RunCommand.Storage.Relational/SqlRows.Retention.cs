namespace RunCommand.Storage.Relational;

/// <summary>Rows retention finds and removes: ended executions, their output chunks, executions agents must forget.</summary>
public sealed partial class SqlRows
{
    public async Task<IReadOnlyList<ExecutionRecord>> ListExecutionsOfCommandAsync(RunCommandKey command, CancellationToken cancellationToken) =>
        await QueryAsync($"SELECT {ExecutionColumns} FROM executions e WHERE lower(e.command_resource_id) = @key ORDER BY e.created, e.id",
            reader => ReadExecution(reader, 0), cancellationToken, ("@key", command.Key));

    public async Task<IReadOnlyList<EndedExecution>> ListEndedExecutionsAsync(DateTimeOffset? endedBefore, EndedExecution? after, int take, CancellationToken cancellationToken)
    {
        var page = await QueryAsync($"""
            SELECT {ExecutionColumns}, e.command_resource_id,
                   e.stdout_len + e.stderr_len,
                   EXISTS(SELECT 1 FROM fleet_targets f WHERE f.execution_id = e.id)
                   OR EXISTS(SELECT 1 FROM deployment_operations d WHERE d.execution_id = e.id)
            FROM executions e
            WHERE e.end_time IS NOT NULL
            {(endedBefore is null ? "" : "AND e.end_time < @before")}
            {(after is null ? "" : "AND (e.end_time > @afterEnd OR (e.end_time = @afterEnd AND e.id > @afterId))")}
            ORDER BY e.end_time, e.id LIMIT @take
            """, reader =>
            {
                var command = StorageFormat.ParseRunCommandId(reader.GetString(11));
                return (Ended: new EndedExecution
                {
                    Execution = ReadExecution(reader, 0),
                    Vm = command.Vm,
                    OutputBytes = Int64(reader, 12),
                    Referenced = Flag(reader, 13),
                }, Command: command);
            }, cancellationToken,
            ("@before", Time(endedBefore)), ("@afterEnd", Time(after?.Execution.EndTime)), ("@afterId", after?.Execution.ExecutionId), ("@take", take));

        // An execution is also referenced while its run command's current execution is it. Found by the commands' keys
        // (their primary key, made here as everywhere else) rather than by execution id, which run_commands has no index
        // for: a PUT would pay for one on every write.
        var current = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (list, parameters) in InLists("@k", [.. page.Select(row => row.Command.Key).Distinct(StringComparer.Ordinal)]))
        {
            current.UnionWith(await QueryAsync($"SELECT execution_id FROM run_commands WHERE key IN ({list})", reader => reader.GetString(0), cancellationToken, parameters));
        }

        return [.. page.Select(row => current.Contains(row.Ended.Execution.ExecutionId) ? row.Ended with { Referenced = true } : row.Ended)];
    }

    // The lengths are what the output rows (or files) hold: an append records its new length in the same transaction, and a
    // drop sets them to 0 (DeleteOutputAsync).
    public async Task<long> SumOutputBytesAsync(CancellationToken cancellationToken) =>
        Convert.ToInt64(await ScalarAsync("SELECT coalesce(sum(stdout_len + stderr_len), 0) FROM executions", cancellationToken), System.Globalization.CultureInfo.InvariantCulture);

    public async Task DeleteOutputAsync(string executionId, CancellationToken cancellationToken)
    {
        await ExecuteAsync("UPDATE executions SET stdout_len = 0, stderr_len = 0 WHERE id = @id", cancellationToken, ("@id", executionId));
        if (outputFiles is null)
        {
            await ExecuteAsync("DELETE FROM output WHERE execution_id = @id", cancellationToken, ("@id", executionId));
            return;
        }

        // The files go once this commits (a rollback must find them): the backend removes what output_dropped names.
        await ExecuteAsync("INSERT INTO output_dropped(execution_id) VALUES(@id) ON CONFLICT(execution_id) DO NOTHING", cancellationToken, ("@id", executionId));
        Notify(OutputDroppedTopic);
    }

    /// <summary>Notified when a transaction dropped output kept in files: the backend removes them once it commits.</summary>
    public const string OutputDroppedTopic = "output-dropped";

    public async Task DeleteExecutionAsync(string executionId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM executions WHERE id = @id", cancellationToken, ("@id", executionId));

    public async Task<int> DeleteSettledOperationsBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
        await ExecuteAsync(
            "DELETE FROM operations WHERE created < @before AND (execution_id IS NULL AND completed IS NOT NULL "
            + "OR execution_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.id = operations.execution_id))",
            cancellationToken, ("@before", Time(before)));

    public async Task InsertForgottenExecutionAsync(VmKey vm, string executionId, DateTimeOffset now, CancellationToken cancellationToken) =>
        await ExecuteAsync("INSERT INTO forgotten_executions(vm_key, execution_id, created) VALUES(@vm, @id, @now) ON CONFLICT(vm_key, execution_id) DO NOTHING",
            cancellationToken, ("@vm", vm.Key), ("@id", executionId), ("@now", Time(now)));

    public async Task<IReadOnlyList<string>> ListForgottenExecutionsAsync(VmKey vm, CancellationToken cancellationToken) =>
        await QueryAsync("SELECT execution_id FROM forgotten_executions WHERE vm_key = @vm ORDER BY created, execution_id",
            reader => reader.GetString(0), cancellationToken, ("@vm", vm.Key));

    public async Task<bool> DeleteForgottenExecutionAsync(VmKey vm, string executionId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM forgotten_executions WHERE vm_key = @vm AND execution_id = @id", cancellationToken, ("@vm", vm.Key), ("@id", executionId)) > 0;

    public async Task<int> DeleteForgottenExecutionsBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM forgotten_executions WHERE created < @before", cancellationToken, ("@before", Time(before)));
}
