using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>Deployments of ARM templates and the progress of their operations.</summary>
public interface IDeploymentStore
{
    /// <summary>
    /// Records a deployment with its operations (none started), replacing a finished one of the same name (its
    /// operation history goes; the run commands it created stay). Refuses while one of that name is not finished.
    /// </summary>
    Task<DeploymentPutOutcome> PutDeploymentAsync(DeploymentWrite write, DateTimeOffset now, CancellationToken cancellationToken);

    Task<DeploymentRecord?> GetDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken);

    /// <summary>Deployments of a resource group, ordered by name (case-insensitive).</summary>
    Task<IReadOnlyList<DeploymentRecord>> ListDeploymentsAsync(string subscriptionId, string resourceGroup, CancellationToken cancellationToken);

    /// <summary>Every deployment still Accepted or Running: what the orchestrator resumes after a restart.</summary>
    Task<IReadOnlyList<DeploymentRecord>> ListUnfinishedDeploymentsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Records that an operation's run command was written and which execution it waits on; the deployment becomes
    /// Running. False (nothing done) when that run of the deployment is gone or finished.
    /// </summary>
    Task<bool> RecordDeploymentOperationStartedAsync(DeploymentKey deployment, string deploymentId, int index, string executionId, string statusCode, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records an operation's end (Succeeded, Failed or Canceled). False when that run of the deployment is gone or finished.</summary>
    Task<bool> RecordDeploymentOperationEndedAsync(DeploymentKey deployment, string deploymentId, int index, DeploymentState state, string statusCode, ArmError? error, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Moves an unfinished deployment to a terminal state; false when it is gone, replaced or already finished.</summary>
    Task<bool> FinishDeploymentAsync(DeploymentKey deployment, string deploymentId, DeploymentState state, ArmError? error, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the deployment record and its operations (not the run commands it created); false when there was none.</summary>
    Task<bool> DeleteDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken);
}
