using System.Data.Common;

namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>run_commands</c>, <c>executions</c>, <c>output</c> and <c>operations</c>.</summary>
public sealed partial class SqlRows
{
    private const string RunCommandColumns = """
        r.name, r.location, r.tags, r.spec, r.secrets, r.fingerprint, r.operation_id, r.first_execution, r.deleting, r.created,
               e.id, e.state, e.exit_code, e.message, e.start_time, e.end_time, e.cancel_requested, e.delivered, e.stdout_len, e.stderr_len, e.created,
               v.subscription, v.resource_group, v.name, v.scale_set
        """;

    private const string RunCommandSelect =
        "SELECT " + RunCommandColumns + " FROM run_commands r JOIN executions e ON e.id = r.execution_id JOIN vms v ON v.key = r.vm_key";

    // The VM (12 columns), its run command count (kept on its row), then the run command's columns when it exists (all NULL
    // when not). The run command is found by its key alone, which names its VM: a join on r.vm_key as well let
    // PostgreSQL's generic plan take ix_run_commands_vm and visit every run command of the VM on each PUT, a cost
    // that grew with the VM's commands (docs/performance.md, item 28).
    private const string PutReadSelect = "SELECT " + VmColumns + ", v.run_command_count, " + RunCommandColumns + """
         FROM vms v
        """ + VmHoldJoin + """
         LEFT JOIN run_commands r ON r.key = @key LEFT JOIN executions e ON e.id = r.execution_id
        WHERE v.key = @vm
        """;

    /// <summary>Where the run command's columns start in <see cref="PutReadSelect"/>: after the VM's and its run-command count.</summary>
    private const int PutReadRunCommand = VmColumnCount + 1;

    private const string ExecutionColumns =
        "e.id, e.state, e.exit_code, e.message, e.start_time, e.end_time, e.cancel_requested, e.delivered, e.stdout_len, e.stderr_len, e.created";

    private static RunCommandRecord ReadRunCommand(DbDataReader reader) => ReadRunCommand(reader, 0);

    private static RunCommandRecord ReadRunCommand(DbDataReader reader, int first) => new()
    {
        Command = new RunCommandKey(
            new VmKey(reader.GetString(first + 21), reader.GetString(first + 22), reader.GetString(first + 23), Text(reader, first + 24)), reader.GetString(first)),
        Location = reader.GetString(first + 1),
        Tags = StorageFormat.DeserializeTags(Text(reader, first + 2)),
        Spec = StorageFormat.DeserializeSpec(reader.GetString(first + 3)),
        SealedSecrets = Bytes(reader, first + 4),
        Fingerprint = reader.GetString(first + 5),
        OperationId = reader.GetString(first + 6),
        IsFirstExecution = Flag(reader, first + 7),
        Deleting = Flag(reader, first + 8),
        Created = Time(reader, first + 9),
        Execution = ReadExecution(reader, first + 10),
    };

    private static ExecutionRecord ReadExecution(DbDataReader reader, int first) => new()
    {
        ExecutionId = reader.GetString(first),
        State = Enum<ExecutionState>(reader, first + 1),
        ExitCode = Int32OrNull(reader, first + 2),
        Message = Text(reader, first + 3),
        StartTime = TimeOrNull(reader, first + 4),
        EndTime = TimeOrNull(reader, first + 5),
        CancelRequested = Flag(reader, first + 6),
        Delivered = Flag(reader, first + 7),
        StdoutLength = Int64(reader, first + 8),
        StderrLength = Int64(reader, first + 9),
        Created = Time(reader, first + 10),
    };

    public Task<RunCommandRecord?> GetRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken) =>
        QuerySingleAsync(RunCommandSelect + " WHERE r.key = @key", ReadRunCommand, cancellationToken, ("@key", command.Key));

    public async Task<IReadOnlyList<RunCommandRecord>> ListRunCommandsAsync(VmKey vm, string? afterLowerName, int take, CancellationToken cancellationToken) =>
        await QueryAsync(RunCommandSelect + " WHERE r.vm_key = @vm" + (afterLowerName is null ? "" : " AND r.sort_name > @after") + " ORDER BY r.sort_name LIMIT @take",
            ReadRunCommand, cancellationToken, ("@vm", vm.Key), ("@after", afterLowerName), ("@take", take));

    public Task<RunCommandPutRead?> ReadForPutAsync(RunCommandKey command, CancellationToken cancellationToken) =>
        QuerySingleAsync(PutReadSelect, reader => new RunCommandPutRead(
                ReadVm(reader),
                reader.IsDBNull(PutReadRunCommand) ? null : ReadRunCommand(reader, PutReadRunCommand),
                Int32(reader, PutReadRunCommand - 1)),
            cancellationToken, ("@key", command.Key), ("@vm", command.Vm.Key));

    /// <summary>
    /// Locks the rows a PUT of <paramref name="command"/> reads and may change (its VM's, its own, its current
    /// execution's) until the transaction ends, with the dialect's statements (none on SQLite, whose writer is alone);
    /// they go with the transaction's next round trip, before the read.
    /// </summary>
    public async Task LockRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken)
    {
        foreach (var sql in dialect.LockRunCommandStatements)
        {
            await DeferAsync(sql, cancellationToken, ("@vm", command.Vm.Key), ("@key", command.Key));
        }
    }

    public Task SaveRunCommandAsync(RunCommandRow row, CancellationToken cancellationToken) =>
        DeferAsync("""
            INSERT INTO run_commands(key, vm_key, name, sort_name, location, tags, spec, secrets, fingerprint, execution_id, operation_id, first_execution, deleting, created)
            VALUES(@key, @vm, @name, @sort, @loc, @tags, @spec, @secrets, @fp, @exec, @op, @first, @deleting, @created)
            ON CONFLICT(key) DO UPDATE SET name = excluded.name, sort_name = excluded.sort_name, location = excluded.location, tags = excluded.tags,
                spec = excluded.spec, secrets = excluded.secrets, fingerprint = excluded.fingerprint, execution_id = excluded.execution_id,
                operation_id = excluded.operation_id, first_execution = excluded.first_execution, deleting = excluded.deleting, created = excluded.created
            """, cancellationToken,
            ("@key", row.Command.Key), ("@vm", row.Command.Vm.Key), ("@name", row.Command.Name), ("@sort", row.Command.Name.ToLowerInvariant()),
            ("@loc", row.Location), ("@tags", StorageFormat.Serialize(row.Tags)), ("@spec", StorageFormat.Serialize(row.Spec)), ("@secrets", row.SealedSecrets),
            ("@fp", row.Fingerprint), ("@exec", row.ExecutionId), ("@op", row.OperationId), ("@first", row.IsFirstExecution), ("@deleting", row.Deleting),
            ("@created", Time(row.Created)));

    public async Task DeleteRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken)
    {
        // The row goes and with it one from its VM's count (which a PUT's limit check reads).
        if (await ExecuteAsync("DELETE FROM run_commands WHERE key = @key", cancellationToken, ("@key", command.Key)) > 0)
        {
            await ExecuteAsync("UPDATE vms SET run_command_count = run_command_count - 1 WHERE key = @key", cancellationToken, ("@key", command.Vm.Key));
        }
    }

    public Task<RunCommandRecord?> FindDeletingRunCommandAsync(string executionId, CancellationToken cancellationToken) =>
        QuerySingleAsync(RunCommandSelect + " WHERE r.execution_id = @id AND r.deleting = TRUE", ReadRunCommand, cancellationToken, ("@id", executionId));

    public Task InsertExecutionAsync(VmKey vm, NewExecution execution, CancellationToken cancellationToken) =>
        DeferAsync("""
            INSERT INTO executions(id, vm_key, command_resource_id, spec, secrets, state, cancel_requested, delivered, stdout_len, stderr_len, created)
            VALUES(@id, @vm, @rid, @spec, @secrets, @state, FALSE, FALSE, 0, 0, @created)
            """, cancellationToken,
            ("@id", execution.ExecutionId), ("@vm", vm.Key), ("@rid", execution.Command.ResourceId), ("@spec", StorageFormat.Serialize(execution.Spec)),
            ("@secrets", execution.SealedSecrets), ("@state", nameof(ExecutionState.Pending)), ("@created", Time(execution.Created)));

    public async Task<(ExecutionRecord Execution, RunCommandKey Command)?> GetExecutionAsync(string executionId, CancellationToken cancellationToken)
    {
        var found = await QueryAsync($"SELECT {ExecutionColumns}, e.command_resource_id FROM executions e WHERE e.id = @id",
            reader => (ReadExecution(reader, 0), StorageFormat.ParseRunCommandId(reader.GetString(11))), cancellationToken, ("@id", executionId));
        return found.Count == 0 ? null : found[0];
    }

    public async Task<IReadOnlyList<ExecutionRecord>> GetExecutionsAsync(IReadOnlyList<string> executionIds, CancellationToken cancellationToken)
    {
        var found = new List<ExecutionRecord>(executionIds.Count);
        foreach (var (list, parameters) in InLists("@id", executionIds))
        {
            found.AddRange(await QueryAsync($"SELECT {ExecutionColumns} FROM executions e WHERE e.id IN ({list})", reader => ReadExecution(reader, 0), cancellationToken, parameters));
        }

        return found;
    }

    // Per execution, a seek to the last chunk starting at or before the tail's first byte (as ReadOutputAsync does), then
    // the chunks after it: the tail of a 1 GiB stream reads a row or two, not every row of the stream.
    public async Task<IReadOnlyList<(string ExecutionId, long Start, byte[] Data)>> ReadOutputTailsAsync(IReadOnlyList<string> executionIds, OutputStream stream, int tailBytes, CancellationToken cancellationToken)
    {
        var length = LengthColumn(stream, "e.");
        var found = new List<(string ExecutionId, long Start, byte[] Data)>();
        if (outputFiles is not null)
        {
            // The lengths of this transaction's snapshot bound what is read: a file may hold bytes of a write not committed yet.
            foreach (var (list, parameters) in InLists("@id", executionIds))
            {
                foreach (var (id, held) in await QueryAsync($"SELECT e.id, {length} FROM executions e WHERE e.id IN ({list}) AND {length} > 0",
                    reader => (reader.GetString(0), Int64(reader, 1)), cancellationToken, parameters))
                {
                    var from = Math.Max(0, held - tailBytes);
                    found.Add((id, from, outputFiles.Read(id, stream, from, held)));
                }
            }

            return found;
        }

        foreach (var (list, parameters) in InLists("@id", executionIds))
        {
            found.AddRange(await QueryAsync($"""
                SELECT o.execution_id, o.start_offset, o.data
                FROM executions e JOIN output o ON o.execution_id = e.id AND o.stream = @s
                    AND o.start_offset >= COALESCE((SELECT MAX(p.start_offset) FROM output p
                        WHERE p.execution_id = e.id AND p.stream = @s AND p.start_offset <= {length} - @tail), 0)
                WHERE e.id IN ({list}) AND {length} > 0 AND o.end_offset > {length} - @tail AND o.start_offset < {length}
                ORDER BY o.execution_id, o.start_offset
                """, reader => (reader.GetString(0), Int64(reader, 1), (byte[])reader.GetValue(2)), cancellationToken,
                [.. parameters, ("@s", (int)stream), ("@tail", (long)tailBytes)]));
        }

        return found;
    }

    public async Task UpdateExecutionAsync(ExecutionRecord execution, bool dropSecrets, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            UPDATE executions SET state = @state, exit_code = @code, message = @msg, start_time = @start, end_time = @end,
                cancel_requested = @cancel, delivered = @delivered, stdout_len = @out, stderr_len = @err,
                secrets = CASE WHEN @drop THEN NULL ELSE secrets END
            WHERE id = @id
            """, cancellationToken,
            ("@id", execution.ExecutionId), ("@state", execution.State.ToString()), ("@code", execution.ExitCode), ("@msg", execution.Message),
            ("@start", Time(execution.StartTime)), ("@end", Time(execution.EndTime)), ("@cancel", execution.CancelRequested), ("@delivered", execution.Delivered),
            ("@out", execution.StdoutLength), ("@err", execution.StderrLength), ("@drop", dropSecrets));

    public async Task<IReadOnlyList<PendingWork>> ListUnfinishedExecutionsAsync(VmKey vm, CancellationToken cancellationToken) =>
        await QueryAsync(
            $"SELECT {ExecutionColumns}, e.command_resource_id, e.spec, e.secrets FROM executions e WHERE e.vm_key = @vm AND e.state IN ('Pending', 'Running') ORDER BY e.created, e.id",
            reader => new PendingWork
            {
                Execution = ReadExecution(reader, 0),
                Command = StorageFormat.ParseRunCommandId(reader.GetString(11)),
                Spec = StorageFormat.DeserializeSpec(reader.GetString(12)),
                SealedSecrets = Bytes(reader, 13),
            }, cancellationToken, ("@vm", vm.Key));

    public async Task InsertOutputAsync(string executionId, OutputStream stream, long start, byte[] data, CancellationToken cancellationToken)
    {
        if (outputFiles is not null)
        {
            // Before the commit that records the new length; a rolled-back write leaves bytes past it, which no read
            // returns and the next append (at the same length) overwrites.
            outputFiles.Write(executionId, stream, start, data);
            return;
        }

        await ExecuteAsync("INSERT INTO output(execution_id, stream, start_offset, end_offset, data) VALUES(@id, @s, @start, @end, @data)", cancellationToken,
            ("@id", executionId), ("@s", (int)stream), ("@start", start), ("@end", start + data.Length), ("@data", data));
    }

    // The lower bound on start_offset (the last row starting at or before @from) makes a read near the end of a long
    // stream (a tail: the last 4 KiB of 1 GiB) a seek in the primary key instead of a scan of every row before it.
    public async Task<IReadOnlyList<(long Start, byte[] Data)>> ReadOutputAsync(string executionId, OutputStream stream, long from, long to, CancellationToken cancellationToken)
    {
        if (outputFiles is not null)
        {
            var held = await ScalarAsync($"SELECT {LengthColumn(stream, "")} FROM executions WHERE id = @id", cancellationToken, ("@id", executionId));
            to = Math.Min(to, held is null ? 0 : Convert.ToInt64(held, System.Globalization.CultureInfo.InvariantCulture));
            return from < to ? [(from, outputFiles.Read(executionId, stream, from, to))] : [];
        }

        return await QueryAsync("""
            SELECT start_offset, data FROM output
            WHERE execution_id = @id AND stream = @s AND end_offset > @from AND start_offset < @to
              AND start_offset >= COALESCE((SELECT MAX(start_offset) FROM output WHERE execution_id = @id AND stream = @s AND start_offset <= @from), 0)
            ORDER BY start_offset
            """, reader => (Int64(reader, 0), (byte[])reader.GetValue(1)), cancellationToken,
            ("@id", executionId), ("@s", (int)stream), ("@from", from), ("@to", to));
    }

    private static string LengthColumn(OutputStream stream, string alias) => alias + (stream == OutputStream.Stdout ? "stdout_len" : "stderr_len");

    public async Task<IReadOnlyList<(ExecutionState State, long Count)>> CountRunCommandsByStateAsync(CancellationToken cancellationToken) =>
        await QueryAsync("""
            SELECT e.state, count(*) FROM run_commands r JOIN executions e ON e.id = r.execution_id
            WHERE NOT r.deleting GROUP BY e.state
            """, reader => (Enum<ExecutionState>(reader, 0), Int64(reader, 1)), cancellationToken);

    public Task InsertOperationAsync(OperationRecord operation, CancellationToken cancellationToken) =>
        DeferAsync("INSERT INTO operations(id, kind, resource_id, execution_id, created, completed) VALUES(@id, @kind, @rid, @exec, @created, @completed)",
            cancellationToken, ("@id", operation.OperationId), ("@kind", operation.Kind.ToString().ToLowerInvariant()), ("@rid", operation.ResourceId),
            ("@exec", operation.ExecutionId), ("@created", Time(operation.Created)), ("@completed", Time(operation.Completed)));

    public async Task CompleteOperationAsync(string operationId, DateTimeOffset completed, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE operations SET completed = @now WHERE id = @id", cancellationToken, ("@id", operationId), ("@now", Time(completed)));

    public Task<OperationRecord?> GetOperationAsync(string operationId, CancellationToken cancellationToken) =>
        QuerySingleAsync("SELECT id, kind, resource_id, execution_id, created, completed FROM operations WHERE id = @id", reader => new OperationRecord
        {
            OperationId = reader.GetString(0),
            Kind = Enum<OperationKind>(reader, 1),
            ResourceId = reader.GetString(2),
            ExecutionId = Text(reader, 3),
            Created = Time(reader, 4),
            Completed = TimeOrNull(reader, 5),
        }, cancellationToken, ("@id", operationId));
}
