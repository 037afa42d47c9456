namespace RunCommand.Storage;

/// <summary>
/// The rules of writing a run command, on any backend, run inside the caller's transaction: shared by a PUT
/// (<see cref="RunCommandStore"/>) and a fleet run starting a batch of targets (<see cref="FleetRunStore"/>).
/// </summary>
internal static class RunCommandRules
{
    /// <summary>
    /// Creates or updates a run command: an unchanged fingerprint changes nothing (no re-run); otherwise a new Pending
    /// execution and operation are recorded, a still-running previous execution is asked to stop and the agent is told.
    /// An accepted write appends its <see cref="RunCommandWrite.Activity"/> entry in the same transaction.
    /// </summary>
    public static async Task<WriteOutcome> PutAsync(IRows rows, RunCommandWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var outcome = await WriteAsync(rows, write, newExecutionId, newOperationId, now, cancellationToken);
        if (write.Activity is { } activity && outcome.Record is not null)
        {
            await ActivityLogStore.AppendAsync(rows, activity(outcome.Kind), cancellationToken);
        }

        return outcome;
    }

    private static async Task<WriteOutcome> WriteAsync(IRows rows, RunCommandWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // The record answered is built from the rows written, not read back, so its times must be what the rows hold.
        now = StorageFormat.StoredTime(now);
        var vm = write.Command.Vm;
        if (await rows.ReadForPutAsync(write.Command, cancellationToken) is not { } read)
        {
            return new WriteOutcome(WriteOutcomeKind.VmNotFound, null);
        }

        var (machine, existing, count) = read;

        if (write.ExpectedLocation is { } expected && !Locations.Same(expected, machine.Location))
        {
            return new WriteOutcome(WriteOutcomeKind.LocationMismatch, null, machine);
        }

        if (existing is { Deleting: true })
        {
            return new WriteOutcome(WriteOutcomeKind.Deleting, existing);
        }

        if (existing is not null && existing.Fingerprint == write.Fingerprint)
        {
            // Same body again: ARM semantics say nothing changes and nothing re-runs. Tags may differ.
            var retagged = existing with { Tags = write.Tags };
            await rows.SaveRunCommandAsync(RunCommandRow.From(retagged), cancellationToken);
            return new WriteOutcome(WriteOutcomeKind.Unchanged, retagged);
        }

        if (existing is null)
        {
            if (count >= write.MaxRunCommandsPerVm)
            {
                return new WriteOutcome(WriteOutcomeKind.LimitReached, null);
            }
        }
        else
        {
            await ExecutionRules.StopAsync(rows, existing.Execution, "Canceled: the run command was updated", now, cancellationToken);
        }

        await rows.InsertExecutionAsync(vm, new NewExecution
        {
            ExecutionId = newExecutionId,
            Command = write.Command,
            Spec = write.Spec,
            SealedSecrets = write.SealedSecrets,
            Created = now,
        }, cancellationToken);
        await rows.InsertOperationAsync(new OperationRecord
        {
            OperationId = newOperationId,
            Kind = OperationKind.Put,
            ResourceId = write.Command.ResourceId,
            ExecutionId = newExecutionId,
            Created = now,
        }, cancellationToken);
        // ARM keeps a resource's name as it was created: an update spelled in another case does not rename it.
        var command = existing is null ? write.Command : write.Command with { Name = existing.Command.Name };
        var row = new RunCommandRow
        {
            Command = command,
            Location = write.Location ?? machine.Location,
            Tags = write.Tags,
            Spec = write.Spec,
            SealedSecrets = write.SealedSecrets,
            Fingerprint = write.Fingerprint,
            ExecutionId = newExecutionId,
            OperationId = newOperationId,
            IsFirstExecution = existing is null,
            Created = existing?.Created ?? now,
        };
        await rows.SaveRunCommandAsync(row, cancellationToken);
        await ExecutionRules.TellAgentAsync(rows, vm, cancellationToken, runCommandsAdded: existing is null ? 1 : 0);

        // What a read of the command would now answer: the VM's names as stored (the request may spell them in
        // another case), the new execution as inserted (Pending, undelivered, no output).
        var record = new RunCommandRecord
        {
            Command = new RunCommandKey(machine.Vm, command.Name),
            Location = row.Location,
            Tags = row.Tags,
            Spec = row.Spec,
            SealedSecrets = row.SealedSecrets,
            Fingerprint = row.Fingerprint,
            OperationId = newOperationId,
            IsFirstExecution = row.IsFirstExecution,
            Created = row.Created,
            Execution = new ExecutionRecord { ExecutionId = newExecutionId, State = ExecutionState.Pending, Created = now },
        };
        return new WriteOutcome(existing is null ? WriteOutcomeKind.Created : WriteOutcomeKind.Updated, record);
    }
}
