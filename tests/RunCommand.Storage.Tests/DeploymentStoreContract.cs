using RunCommand.Contracts.Arm;

namespace RunCommand.Storage.Tests;

/// <summary>Deployments and their operations on any backend.</summary>
public abstract class DeploymentStoreContract<TBackends> : StoreContract<TBackends>
    where TBackends : IBackendFactory, new()
{
    private readonly DeploymentKey _key = new("00000000-0000-0000-0000-000000000001", "Group", "Deploy1");

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
        var changed = Changes.NextChangeAsync(Topics.Deployment(_key));

        Assert.Equal(DeploymentPutOutcome.Created, await Deployments.PutDeploymentAsync(Write("d1"), Now, default));

        Assert.True(changed.IsCompleted);
        var record = (await Deployments.GetDeploymentAsync(_key with { ResourceGroup = "GROUP", Name = "deploy1" }, default))!;
        Assert.Equal(DeploymentState.Accepted, record.State);
        Assert.Equal([0], record.Operations[1].Plan.DependsOn);
        Assert.Equal([1, 2], record.Operations[0].Plan.SealedBody);
        Assert.Null(record.Operations[0].State);
        Assert.Single(await Deployments.ListUnfinishedDeploymentsAsync(default));
        Assert.Single(await Deployments.ListDeploymentsAsync(_key.SubscriptionId, "group", default));
    }

    [Fact]
    public async Task PutDeployment_WhileUnfinished_IsActiveAndReplacesAfterFinish()
    {
        await Deployments.PutDeploymentAsync(Write("d1"), Now, default);

        Assert.Equal(DeploymentPutOutcome.Active, await Deployments.PutDeploymentAsync(Write("d2"), Now, default));
        Assert.True(await Deployments.FinishDeploymentAsync(_key, "d1", DeploymentState.Succeeded, null, Now, default));
        Assert.Equal(DeploymentPutOutcome.Replaced, await Deployments.PutDeploymentAsync(Write("d2"), Now, default));
        Assert.Equal("d2", (await Deployments.GetDeploymentAsync(_key, default))!.DeploymentId);
    }

    [Fact]
    public async Task RecordOperation_StartedThenEnded_IsKeptAndStaleRunIsRefused()
    {
        await Deployments.PutDeploymentAsync(Write("d1"), Now, default);

        Assert.True(await Deployments.RecordDeploymentOperationStartedAsync(_key, "d1", 0, "exec-a", "Created", Now, default));
        Assert.False(await Deployments.RecordDeploymentOperationStartedAsync(_key, "stale", 1, "exec-b", "Created", Now, default));
        var error = new ArmError { Code = "X", Message = "failed" };
        Assert.True(await Deployments.RecordDeploymentOperationEndedAsync(_key, "d1", 0, DeploymentState.Failed, "Conflict", error, Now.AddSeconds(1), default));

        var record = (await Deployments.GetDeploymentAsync(_key, default))!;
        Assert.Equal(DeploymentState.Running, record.State);
        Assert.Equal("exec-a", record.Operations[0].ExecutionId);
        Assert.Equal(DeploymentState.Failed, record.Operations[0].State);
        Assert.Equal("failed", record.Operations[0].Error!.Message);
        Assert.Equal(Now.AddSeconds(1), record.Operations[0].Ended);
        Assert.Null(record.Operations[1].State);
    }

    [Fact]
    public async Task FinishDeployment_Twice_SecondIsRefusedAndDeleteRemovesIt()
    {
        await Deployments.PutDeploymentAsync(Write("d1"), Now, default);

        Assert.True(await Deployments.FinishDeploymentAsync(_key, "d1", DeploymentState.Canceled, new ArmError { Code = "C", Message = "m" }, Now, default));
        Assert.False(await Deployments.FinishDeploymentAsync(_key, "d1", DeploymentState.Succeeded, null, Now, default));
        Assert.Equal(DeploymentState.Canceled, (await Deployments.GetDeploymentAsync(_key, default))!.State);
        Assert.Empty(await Deployments.ListUnfinishedDeploymentsAsync(default));

        Assert.True(await Deployments.DeleteDeploymentAsync(_key, default));
        Assert.Null(await Deployments.GetDeploymentAsync(_key, default));
        Assert.False(await Deployments.DeleteDeploymentAsync(_key, default));
    }
}
