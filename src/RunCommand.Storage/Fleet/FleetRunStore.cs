namespace RunCommand.Storage;

/// <summary>Fleet run verbs over any backend. Rules: runs are immutable once created; only a running run completes or is asked to cancel.</summary>
public sealed class FleetRunStore(IStorageBackend backend) : IFleetRunStore
{
    public Task<FleetCreateOutcome> CreateFleetRunAsync(FleetRunRecord run, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            if (await rows.GetFleetRunAsync(run.Run, cancellationToken) is not null)
            {
                return FleetCreateOutcome.Exists;
            }

            // The run and its target snapshot are one transaction: the orchestrator never sees a run with part of its targets.
            await rows.InsertFleetRunAsync(run, cancellationToken);
            rows.Notify(Topics.Fleets);
            return FleetCreateOutcome.Created;
        }, cancellationToken);

    public Task<FleetRunRecord?> GetFleetRunAsync(FleetRunKey run, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetFleetRunAsync(run, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<FleetRunRecord>> ListFleetRunsAsync(string subscriptionId, string resourceGroup, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListFleetRunsAsync(subscriptionId, resourceGroup, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<FleetRunRecord>> ListActiveFleetRunsAsync(CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListFleetRunsAsync(null, null, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<FleetTargetStartOutcome>> StartFleetTargetsAsync(
        FleetRunRecord run, IReadOnlyList<FleetTargetStart> starts, int maxRunCommandsPerVm, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync<IReadOnlyList<FleetTargetStartOutcome>>(async rows =>
        {
            // Built afresh on every attempt: a PostgreSQL unit may run again after a conflict.
            var outcomes = new List<FleetTargetStartOutcome>(starts.Count);
            foreach (var start in starts)
            {
                // One row, not the run's every target: reading them all made starting N targets cost N² row reads.
                var target = await rows.GetFleetTargetAsync(run.Run, start.Ordinal, cancellationToken);
                if (target is null or { ExecutionId: not null } or { NotStarted: true } or { StartFailed: true })
                {
                    // Decided already (by an earlier pass or another node): the next pass reads it from the store.
                    continue;
                }

                var definition = run.Definition;
                var write = new RunCommandWrite
                {
                    Command = new RunCommandKey(target.Machine, definition.RunCommandName),
                    Location = run.Location,
                    Spec = definition.Spec,
                    SealedSecrets = run.SealedSecrets,
                    Fingerprint = definition.Fingerprint,
                    MaxRunCommandsPerVm = maxRunCommandsPerVm,
                };

                // The run command and the target's record commit together, so a crash leaves neither or both. The
                // fingerprint is unique to the run: a target whose run command exists already (written by a PUT of
                // an older build that crashed before recording it) answers the execution started then, never a second.
                var outcome = await RunCommandRules.PutAsync(rows, write, start.NewExecutionId, start.NewOperationId, now, cancellationToken);
                var started = outcome.Record?.Execution.ExecutionId;
                var failure = outcome.Kind switch
                {
                    WriteOutcomeKind.Created or WriteOutcomeKind.Updated or WriteOutcomeKind.Unchanged => null,
                    WriteOutcomeKind.VmNotFound => "The machine no longer exists.",
                    WriteOutcomeKind.LimitReached => $"The machine already has the maximum of {maxRunCommandsPerVm} run commands.",
                    _ => $"Run command '{definition.RunCommandName}' is being deleted on the machine.",
                };
                started = failure is null ? started : null;
                await rows.SaveFleetTargetAsync(run.Run, target with { ExecutionId = started, StartFailed = started is null, Message = failure }, cancellationToken);
                outcomes.Add(new FleetTargetStartOutcome(start.Ordinal, started, failure));
                if (started is null)
                {
                    // The caller decides, with this failure counted, whether maxErrors lets more targets start.
                    break;
                }
            }

            // Watchers of the run (a CLI following it) learn of the new targets at once.
            rows.Notify(Topics.Fleet(run.Run));
            return outcomes;
        }, cancellationToken);

    public Task SkipUnstartedFleetTargetsAsync(FleetRunKey run, string message, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var targets = (await rows.GetFleetRunAsync(run, cancellationToken))?.Targets ?? [];
            foreach (var target in targets.Where(t => t is { ExecutionId: null, StartFailed: false, NotStarted: false }))
            {
                await rows.SaveFleetTargetAsync(run, target with { NotStarted = true, Message = message }, cancellationToken);
            }

            rows.Notify(Topics.Fleet(run));
            return true;
        }, cancellationToken);

    public Task CompleteFleetRunAsync(FleetRunKey run, FleetRunState state, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            if (await rows.GetFleetRunAsync(run, cancellationToken) is { State: FleetRunState.Running } record)
            {
                // The secrets are no longer needed once no target can start.
                await rows.SaveFleetRunStateAsync(run, state, record.CancelRequested, now, dropSecrets: true, cancellationToken);
            }

            rows.Notify(Topics.Fleet(run));
            return true;
        }, cancellationToken);

    public Task<bool> RequestFleetRunCancelAsync(FleetRunKey run, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var record = await rows.GetFleetRunAsync(run, cancellationToken);
            if (record is null)
            {
                return false;
            }

            if (record.State == FleetRunState.Running)
            {
                await rows.SaveFleetRunStateAsync(run, record.State, cancelRequested: true, record.Completed, dropSecrets: false, cancellationToken);
            }

            rows.Notify(Topics.Fleets);
            return true;
        }, cancellationToken);
}
