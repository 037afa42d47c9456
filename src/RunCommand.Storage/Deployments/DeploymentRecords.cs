using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>A deployment (<c>Microsoft.Resources/deployments</c>) addressed by resource group and name; compares case-insensitively.</summary>
public sealed record DeploymentKey(string SubscriptionId, string ResourceGroup, string Name)
{
    public string ResourceId => $"/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroup}/providers/Microsoft.Resources/deployments/{Name}";

    public string Key => ResourceId.ToLowerInvariant();
}

/// <summary>A new deployment: its plan, one operation per run command, none started yet.</summary>
public sealed record DeploymentWrite
{
    public required DeploymentKey Deployment { get; init; }

    /// <summary>Fresh id of this run of the deployment; a later PUT of the same name gets a new one.</summary>
    public required string DeploymentId { get; init; }

    public required IReadOnlyList<DeploymentOperationPlan> Operations { get; init; }
}

/// <summary>What one operation of a deployment will create.</summary>
public sealed record DeploymentOperationPlan
{
    /// <summary>Position of the resource in the template.</summary>
    public required int Index { get; init; }

    public required string OperationId { get; init; }

    /// <summary>Full id of the run command it creates.</summary>
    public required string ResourceId { get; init; }

    /// <summary>Template name, <c>vm/runCommand</c>.</summary>
    public required string ResourceName { get; init; }

    public required string ResourceType { get; init; }

    /// <summary>Indexes of the operations that must succeed before this one starts.</summary>
    public required IReadOnlyList<int> DependsOn { get; init; }

    /// <summary>The evaluated run command body, sealed (it may hold protected parameters and passwords).</summary>
    public required byte[] SealedBody { get; init; }
}

/// <summary>Which deployments a listing returns: those of one resource group (by name), or every unfinished one (oldest first).</summary>
public sealed record DeploymentQuery
{
    public string? SubscriptionId { get; init; }

    public string? ResourceGroup { get; init; }

    /// <summary>Only Accepted or Running deployments of any group, oldest first.</summary>
    public bool UnfinishedOnly { get; init; }
}

/// <summary>A deployment as stored, with its operations in template order.</summary>
public sealed record DeploymentRecord
{
    public required DeploymentKey Deployment { get; init; }

    public required string DeploymentId { get; init; }

    public required DeploymentState State { get; init; }

    /// <summary>When the PUT was accepted.</summary>
    public required DateTimeOffset Created { get; init; }

    /// <summary>When it reached a terminal state; null before.</summary>
    public DateTimeOffset? Ended { get; init; }

    /// <summary>Why it failed or was canceled; null otherwise.</summary>
    public ArmError? Error { get; init; }

    public required IReadOnlyList<DeploymentOperationRecord> Operations { get; init; }

    public bool IsTerminal => State.IsTerminal();
}

/// <summary>One operation of a deployment: the plan plus what happened.</summary>
public sealed record DeploymentOperationRecord
{
    public required DeploymentOperationPlan Plan { get; init; }

    /// <summary>Null while not started; then Running, Succeeded, Failed or Canceled (never Accepted).</summary>
    public DeploymentState? State { get; init; }

    /// <summary>The run command execution it waits on; null while not started.</summary>
    public string? ExecutionId { get; init; }

    /// <summary>HTTP-style status of the resource write (OK, Created, BadRequest, NotFound, Conflict); null while not started.</summary>
    public string? StatusCode { get; init; }

    public ArmError? Error { get; init; }

    public DateTimeOffset? Started { get; init; }

    public DateTimeOffset? Ended { get; init; }
}

public enum DeploymentPutOutcome
{
    Created,
    Replaced,

    /// <summary>A deployment of that name is still Accepted or Running; nothing was written.</summary>
    Active,
}
