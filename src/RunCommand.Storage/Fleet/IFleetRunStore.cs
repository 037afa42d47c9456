namespace RunCommand.Storage;

/// <summary>Fleet runs: one script on many machines, with their targets' progress.</summary>
public interface IFleetRunStore
{
    /// <summary>Records a new fleet run with its resolved targets (all waiting); does nothing when the name is taken.</summary>
    Task<FleetCreateOutcome> CreateFleetRunAsync(FleetRunRecord run, CancellationToken cancellationToken);

    Task<FleetRunRecord?> GetFleetRunAsync(FleetRunKey run, CancellationToken cancellationToken);

    /// <summary>Fleet runs of a resource group, ordered by name (case-insensitive).</summary>
    Task<IReadOnlyList<FleetRunRecord>> ListFleetRunsAsync(string subscriptionId, string resourceGroup, CancellationToken cancellationToken);

    /// <summary>Every fleet run not yet in a terminal state, oldest first (what the orchestrator resumes after a restart).</summary>
    Task<IReadOnlyList<FleetRunRecord>> ListActiveFleetRunsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts targets of a running fleet run in the order given, all in one transaction: for each, its run command
    /// (<c>fleet-{run}</c>) is written as a PUT would write it and the execution (or why it could not start) is recorded
    /// on the target. Stops after the first target that cannot start, so that the caller can count that failure against
    /// <c>maxErrors</c> before starting more. A target already started or skipped is left alone and not in the answer.
    /// Returns the outcome of each target it decided, in order.
    /// </summary>
    Task<IReadOnlyList<FleetTargetStartOutcome>> StartFleetTargetsAsync(
        FleetRunRecord run, IReadOnlyList<FleetTargetStart> starts, int maxRunCommandsPerVm, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Marks every target that has not started as never to start, with the reason.</summary>
    Task SkipUnstartedFleetTargetsAsync(FleetRunKey run, string message, CancellationToken cancellationToken);

    /// <summary>Moves a running fleet run to its terminal state (a finished run is left as it is) and drops its secrets.</summary>
    Task CompleteFleetRunAsync(FleetRunKey run, FleetRunState state, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Asks a fleet run to stop; false when it does not exist. A finished run is left as it is.</summary>
    Task<bool> RequestFleetRunCancelAsync(FleetRunKey run, CancellationToken cancellationToken);
}
