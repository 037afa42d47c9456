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
        var vm = write.Command.Vm;
        var machine = await rows.GetVmAsync(vm, cancellationToken);
        if (machine is null)
        {
            return new WriteOutcome(WriteOutcomeKind.VmNotFound, null);
        }

        if (write.ExpectedLocation is { } expected && !Locations.Same(expected, machine.Location))
        {
            return new WriteOutcome(WriteOutcomeKind.LocationMismatch, null, machine);
        }

        var existing = await rows.GetRunCommandAsync(write.Command, cancellationToken);
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
            if (await rows.CountRunCommandsAsync(vm, cancellationToken) >= write.MaxRunCommandsPerVm)
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
        await rows.SaveRunCommandAsync(new RunCommandRow
        {
            Command = write.Command,
            Location = write.Location ?? machine.Location,
            Tags = write.Tags,
            Spec = write.Spec,
            SealedSecrets = write.SealedSecrets,
            Fingerprint = write.Fingerprint,
            ExecutionId = newExecutionId,
            OperationId = newOperationId,
            IsFirstExecution = existing is null,
            Created = existing?.Created ?? now,
        }, cancellationToken);
        await ExecutionRules.TellAgentAsync(rows, vm, cancellationToken);

        var record = await rows.GetRunCommandAsync(write.Command, cancellationToken);
        return new WriteOutcome(existing is null ? WriteOutcomeKind.Created : WriteOutcomeKind.Updated, record);
    }
}
