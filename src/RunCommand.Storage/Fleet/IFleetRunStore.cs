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

    /// <summary>Records the outcome of starting a target: its execution, or (with no execution) why it could not start.</summary>
    Task RecordFleetTargetStartAsync(FleetRunKey run, int ordinal, string? executionId, string? failureMessage, CancellationToken cancellationToken);

    /// <summary>Marks every target that has not started as never to start, with the reason.</summary>
    Task SkipUnstartedFleetTargetsAsync(FleetRunKey run, string message, CancellationToken cancellationToken);

    /// <summary>Moves a running fleet run to its terminal state (a finished run is left as it is) and drops its secrets.</summary>
    Task CompleteFleetRunAsync(FleetRunKey run, FleetRunState state, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Asks a fleet run to stop; false when it does not exist. A finished run is left as it is.</summary>
    Task<bool> RequestFleetRunCancelAsync(FleetRunKey run, CancellationToken cancellationToken);
}
