namespace RunCommand.Storage;

/// <summary>
/// Every store of the server over one backend: the rules written once (the stores), the rows moved by whichever
/// database the backend speaks. The server registers each store interface from here.
/// </summary>
public sealed class RunCommandStorage(IStorageBackend backend) : IAsyncDisposable
{
    public IStorageBackend Backend { get; } = backend;

    public IMachineStore Machines { get; } = new MachineStore(backend);

    public IRunCommandStore RunCommands { get; } = new RunCommandStore(backend);

    public IAgentWorkStore AgentWork { get; } = new AgentWorkStore(backend);

    public ICommandDocumentStore CommandDocuments { get; } = new CommandDocumentStore(backend);

    public IDeploymentStore Deployments { get; } = new DeploymentStore(backend);

    public IFleetRunStore FleetRuns { get; } = new FleetRunStore(backend);

    public IIdentityStore Identity { get; } = new IdentityStore(backend);

    public IActivityLogStore ActivityLog { get; } = new ActivityLogStore(backend);

    public ILeaseStore Leases { get; } = new LeaseStore(backend);

    public IRetentionStore Retention { get; } = new RetentionStore(backend);

    /// <summary>Applies pending migrations (under the backend's lock); call once at start.</summary>
    public Task MigrateAsync(CancellationToken cancellationToken) => Backend.MigrateAsync(cancellationToken);

    /// <summary>For a readiness probe: the database answers and its schema is the one this build needs.</summary>
    public Task<StorageReadiness> CheckReadinessAsync(CancellationToken cancellationToken) => Backend.CheckReadinessAsync(cancellationToken);

    public ValueTask DisposeAsync() => Backend.DisposeAsync();
}
