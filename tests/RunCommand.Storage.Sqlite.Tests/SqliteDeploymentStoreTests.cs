using RunCommand.Contracts.Arm;

namespace RunCommand.Storage.Sqlite.Tests;

public sealed class SqliteDeploymentStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 4, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-deploy-").FullName;
    private readonly InProcessChangeFeed _changes = new();
    private readonly DeploymentKey _key = new("00000000-0000-0000-0000-000000000001", "Group", "Deploy1");
    private SqliteRunCommandStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteRunCommandStore(Path.Combine(_dir, "db.sqlite"), _changes);
        await _store.InitializeAsync(default);
    }

    public Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private DeploymentWrite Write(string deploymentId) => new()
    {
        Deployment = _key,
        DeploymentId = deploymentId,
        Operations =
        [
            new DeploymentOperationPlan { Index = 0, OperationId = "op0", ResourceId = "/x/a", ResourceName = "vm/a", ResourceType = "t", DependsOn = [], SealedBody = [1, 2] },
            new DeploymentOperationPlan { Index = 1, OperationId = "op1", ResourceId = "/x/b", ResourceName = "vm/b", ResourceType = "t", DependsOn = [0], SealedBody = [3] },
        ],
    };

    [Fact]
    public async Task PutDeployment_New_IsAcceptedWithPlanAndListedAsUnfinished()
    {
        var changed = _changes.NextChangeAsync(Topics.Deployment(_key));

        Assert.Equal(DeploymentPutOutcome.Created, await _store.PutDeploymentAsync(Write("d1"), Now, default));

        Assert.True(changed.IsCompleted);
        var record = (await _store.GetDeploymentAsync(_key with { ResourceGroup = "GROUP", Name = "deploy1" }, default))!;
        Assert.Equal(DeploymentStates.Accepted, record.State);
        Assert.Equal([0], record.Operations[1].Plan.DependsOn);
        Assert.Equal([1, 2], record.Operations[0].Plan.SealedBody);
        Assert.Null(record.Operations[0].State);
        Assert.Single(await _store.ListUnfinishedDeploymentsAsync(default));
        Assert.Single(await _store.ListDeploymentsAsync(_key.SubscriptionId, "group", default));
    }

    [Fact]
    public async Task PutDeployment_WhileUnfinished_IsActiveAndReplacesAfterFinish()
    {
        await _store.PutDeploymentAsync(Write("d1"), Now, default);

        Assert.Equal(DeploymentPutOutcome.Active, await _store.PutDeploymentAsync(Write("d2"), Now, default));
        Assert.True(await _store.FinishDeploymentAsync(_key, "d1", DeploymentStates.Succeeded, null, Now, default));
        Assert.Equal(DeploymentPutOutcome.Replaced, await _store.PutDeploymentAsync(Write("d2"), Now, default));
        Assert.Equal("d2", (await _store.GetDeploymentAsync(_key, default))!.DeploymentId);
    }

    [Fact]
    public async Task RecordOperation_StartedThenEnded_IsKeptAndStaleRunIsRefused()
    {
        await _store.PutDeploymentAsync(Write("d1"), Now, default);

        Assert.True(await _store.RecordDeploymentOperationStartedAsync(_key, "d1", 0, "exec-a", "Created", Now, default));
        Assert.False(await _store.RecordDeploymentOperationStartedAsync(_key, "stale", 1, "exec-b", "Created", Now, default));
        var error = new ArmError { Code = "X", Message = "failed" };
        Assert.True(await _store.RecordDeploymentOperationEndedAsync(_key, "d1", 0, DeploymentStates.Failed, "Conflict", error, Now.AddSeconds(1), default));

        var record = (await _store.GetDeploymentAsync(_key, default))!;
        Assert.Equal(DeploymentStates.Running, record.State);
        Assert.Equal("exec-a", record.Operations[0].ExecutionId);
        Assert.Equal(DeploymentStates.Failed, record.Operations[0].State);
        Assert.Equal("failed", record.Operations[0].Error!.Message);
        Assert.Equal(Now.AddSeconds(1), record.Operations[0].Ended);
        Assert.Null(record.Operations[1].State);
    }

    [Fact]
    public async Task FinishDeployment_Twice_SecondIsRefusedAndDeleteRemovesIt()
    {
        await _store.PutDeploymentAsync(Write("d1"), Now, default);

        Assert.True(await _store.FinishDeploymentAsync(_key, "d1", DeploymentStates.Canceled, new ArmError { Code = "C", Message = "m" }, Now, default));
        Assert.False(await _store.FinishDeploymentAsync(_key, "d1", DeploymentStates.Succeeded, null, Now, default));
        Assert.Equal(DeploymentStates.Canceled, (await _store.GetDeploymentAsync(_key, default))!.State);
        Assert.Empty(await _store.ListUnfinishedDeploymentsAsync(default));

        Assert.True(await _store.DeleteDeploymentAsync(_key, default));
        Assert.Null(await _store.GetDeploymentAsync(_key, default));
        Assert.False(await _store.DeleteDeploymentAsync(_key, default));
    }
}
