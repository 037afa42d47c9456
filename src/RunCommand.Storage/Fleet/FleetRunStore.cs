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

    public Task RecordFleetTargetStartAsync(FleetRunKey run, int ordinal, string? executionId, string? failureMessage, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            // One row, not the run's every target: reading them all made starting N targets cost N² row reads.
            var target = await rows.GetFleetTargetAsync(run, ordinal, cancellationToken);
            if (target is null)
            {
                return false;
            }

            await rows.SaveFleetTargetAsync(run, target with { ExecutionId = executionId, StartFailed = executionId is null, Message = failureMessage }, cancellationToken);

            // Watchers of the run (a CLI following it) learn of the new target at once.
            rows.Notify(Topics.Fleet(run));
            return true;
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
