using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>
/// Deployment verbs over any backend. Rules: a deployment of a name is replaced only once finished; an update
/// applies only to the same run (deployment id) while it is unfinished.
/// </summary>
public sealed class DeploymentStore(IStorageBackend backend) : IDeploymentStore
{
    public Task<DeploymentPutOutcome> PutDeploymentAsync(DeploymentWrite write, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var existing = await rows.GetDeploymentAsync(write.Deployment, cancellationToken);
            if (existing is { IsTerminal: false })
            {
                return DeploymentPutOutcome.Active;
            }

            if (existing is not null)
            {
                await rows.DeleteDeploymentAsync(write.Deployment, cancellationToken);
            }

            await rows.SaveDeploymentAsync(new DeploymentRecord
            {
                Deployment = write.Deployment,
                DeploymentId = write.DeploymentId,
                State = DeploymentState.Accepted,
                Created = now,
                Operations = [],
            }, cancellationToken);
            foreach (var plan in write.Operations)
            {
                await rows.SaveDeploymentOperationAsync(write.Deployment, new DeploymentOperationRecord { Plan = plan }, cancellationToken);
            }

            rows.Notify(Topics.Deployment(write.Deployment));
            return existing is null ? DeploymentPutOutcome.Created : DeploymentPutOutcome.Replaced;
        }, cancellationToken);

    public Task<DeploymentRecord?> GetDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetDeploymentAsync(deployment, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<DeploymentRecord>> ListDeploymentsAsync(string subscriptionId, string resourceGroup, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListDeploymentsAsync(new DeploymentQuery { SubscriptionId = subscriptionId, ResourceGroup = resourceGroup }, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<DeploymentRecord>> ListUnfinishedDeploymentsAsync(CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListDeploymentsAsync(new DeploymentQuery { UnfinishedOnly = true }, cancellationToken), cancellationToken);

    public Task<bool> RecordDeploymentOperationStartedAsync(DeploymentKey deployment, string deploymentId, int index, string executionId, string statusCode, DateTimeOffset now, CancellationToken cancellationToken) =>
        UpdateAsync(deployment, deploymentId, async (rows, record) =>
        {
            var operation = record.Operations.Single(o => o.Plan.Index == index);
            await rows.SaveDeploymentOperationAsync(deployment, operation with
            {
                State = DeploymentState.Running,
                ExecutionId = executionId,
                StatusCode = statusCode,
                Started = now,
            }, cancellationToken);
            await rows.SaveDeploymentAsync(record with { State = DeploymentState.Running }, cancellationToken);
        }, cancellationToken);

    public Task<bool> RecordDeploymentOperationEndedAsync(DeploymentKey deployment, string deploymentId, int index, DeploymentState state, string statusCode, ArmError? error, DateTimeOffset now, CancellationToken cancellationToken) =>
        UpdateAsync(deployment, deploymentId, async (rows, record) =>
        {
            var operation = record.Operations.Single(o => o.Plan.Index == index);
            await rows.SaveDeploymentOperationAsync(deployment, operation with
            {
                State = state,
                StatusCode = statusCode,
                Error = error,
                Started = operation.Started ?? now,
                Ended = now,
            }, cancellationToken);
            await rows.SaveDeploymentAsync(record with { State = DeploymentState.Running }, cancellationToken);
        }, cancellationToken);

    public Task<bool> FinishDeploymentAsync(DeploymentKey deployment, string deploymentId, DeploymentState state, ArmError? error, DateTimeOffset now, CancellationToken cancellationToken) =>
        UpdateAsync(deployment, deploymentId, (rows, record) =>
            rows.SaveDeploymentAsync(record with { State = state, Ended = now, Error = error }, cancellationToken), cancellationToken);

    public Task<bool> DeleteDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var deleted = await rows.DeleteDeploymentAsync(deployment, cancellationToken);
            if (deleted)
            {
                rows.Notify(Topics.Deployment(deployment));
            }

            return deleted;
        }, cancellationToken);

    /// <summary>Applies an update to one run of a deployment when it is still that run and not finished; wakes its watchers.</summary>
    private Task<bool> UpdateAsync(DeploymentKey deployment, string deploymentId, Func<IRows, DeploymentRecord, Task> update, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var record = await rows.GetDeploymentAsync(deployment, cancellationToken);
            if (record is null || record.DeploymentId != deploymentId || record.IsTerminal)
            {
                return false;
            }

            await update(rows, record);
            rows.Notify(Topics.Deployment(deployment));
            return true;
        }, cancellationToken);
}
