using System.Text.Json;

namespace RunCommand.Contracts.Arm;

/// <summary>
/// A <c>Microsoft.Resources/deployments</c> resource at resource-group scope, as ARM shows it. RunCommand deploys
/// templates whose resources are run commands.
/// </summary>
public sealed record DeploymentResource
{
    /// <summary>Full id, <c>/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/{name}</c>.</summary>
    public string? Id { get; init; }

    public string? Name { get; init; }

    /// <summary>Always <c>Microsoft.Resources/deployments</c>.</summary>
    public string? Type { get; init; }

    public DeploymentProperties? Properties { get; init; }
}

/// <summary>A deployment's request (template, parameters, mode) on PUT; its state and results on output.</summary>
public sealed record DeploymentProperties
{
    /// <summary>Input only: the template; required on PUT, never echoed.</summary>
    public JsonElement? Template { get; init; }

    /// <summary>Input only: <c>{"name":{"value":...}}</c> for the template's parameters.</summary>
    public JsonElement? Parameters { get; init; }

    /// <summary>Incremental (the only mode RunCommand accepts; Complete would delete resources).</summary>
    public string? Mode { get; init; }

    /// <summary>Output: Accepted, Running, Succeeded, Failed or Canceled.</summary>
    public string? ProvisioningState { get; init; }

    /// <summary>Output: when the state last changed.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Output: ISO 8601 duration from acceptance to the end (or to now while running).</summary>
    public string? Duration { get; init; }

    /// <summary>Output, RunCommand extension: when the PUT was accepted.</summary>
    public DateTimeOffset? StartTime { get; init; }

    /// <summary>Output, RunCommand extension: when it reached a terminal state; null before.</summary>
    public DateTimeOffset? EndTime { get; init; }

    /// <summary>Output: the run commands written so far.</summary>
    public IReadOnlyList<ResourceReference>? OutputResources { get; init; }

    /// <summary>Output: each resource's resolved dependencies on other resources of the template.</summary>
    public IReadOnlyList<DeploymentDependency>? Dependencies { get; init; }

    /// <summary>Output: why it failed or was canceled; null otherwise.</summary>
    public ArmError? Error { get; init; }
}

public sealed record ResourceReference
{
    public required string Id { get; init; }
}

/// <summary>A resource and what it waits for.</summary>
public sealed record DeploymentDependency
{
    public required string Id { get; init; }

    public required string ResourceType { get; init; }

    public required string ResourceName { get; init; }

    public IReadOnlyList<DeploymentDependency>? DependsOn { get; init; }
}

/// <summary>One resource's operation in a deployment (<c>.../deployments/{name}/operations</c>).</summary>
public sealed record DeploymentOperation
{
    public required string Id { get; init; }

    public required string OperationId { get; init; }

    public required DeploymentOperationProperties Properties { get; init; }
}

public sealed record DeploymentOperationProperties
{
    /// <summary>Always Create: a deployment creates or updates run commands.</summary>
    public string ProvisioningOperation { get; init; } = "Create";

    /// <summary>Running, Succeeded, Failed or Canceled.</summary>
    public required string ProvisioningState { get; init; }

    /// <summary>When the state last changed.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>ISO 8601 duration from start to end (or to now while running).</summary>
    public string? Duration { get; init; }

    /// <summary>RunCommand extension: when the run command was written.</summary>
    public DateTimeOffset? StartTime { get; init; }

    /// <summary>RunCommand extension: when its outcome was known; null while running.</summary>
    public DateTimeOffset? EndTime { get; init; }

    /// <summary>HTTP status name of the resource write: Created, OK, BadRequest, NotFound, Conflict.</summary>
    public string? StatusCode { get; init; }

    public DeploymentStatusMessage? StatusMessage { get; init; }

    public required DeploymentTargetResource TargetResource { get; init; }
}

public sealed record DeploymentStatusMessage
{
    public string? Status { get; init; }

    public ArmError? Error { get; init; }
}

public sealed record DeploymentTargetResource
{
    public required string Id { get; init; }

    public required string ResourceType { get; init; }

    public required string ResourceName { get; init; }
}
