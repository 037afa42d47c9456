namespace RunCommand.Storage.Tests;

/// <summary>
/// Base of every contract test class: a fresh, migrated database of the backend <typeparamref name="TBackends"/>
/// makes, with every store over it. A test class is written once against the interfaces; a one-line subclass per
/// backend runs it there (<c>...OnSqlite</c>, <c>...OnPostgres</c>).
/// </summary>
public abstract class StoreContract<TBackends> : IAsyncLifetime
    where TBackends : IBackendFactory, new()
{
    protected static readonly DateTimeOffset Now = new(2026, 11, 26, 4, 0, 0, TimeSpan.Zero);

    protected TBackends Backends { get; } = new();

    protected InProcessChangeFeed Changes { get; } = new();

    protected RunCommandStorage Storage { get; private set; } = null!;

    protected IMachineStore Machines => Storage.Machines;

    protected IRunCommandStore RunCommands => Storage.RunCommands;

    protected IAgentWorkStore AgentWork => Storage.AgentWork;

    protected ICommandDocumentStore Documents => Storage.CommandDocuments;

    protected IDeploymentStore Deployments => Storage.Deployments;

    protected IFleetRunStore FleetRuns => Storage.FleetRuns;

    protected IIdentityStore Identity => Storage.Identity;

    protected IActivityLogStore ActivityLog => Storage.ActivityLog;

    public virtual async Task InitializeAsync()
    {
        Storage = new RunCommandStorage(await Backends.OpenAsync(Changes));
        await Storage.MigrateAsync(default);
    }

    public virtual async Task DisposeAsync()
    {
        await Storage.DisposeAsync();
        await Backends.DisposeAsync();
    }
}
