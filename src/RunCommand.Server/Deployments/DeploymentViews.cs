using System.Xml;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Auth;
using RunCommand.Storage;

namespace RunCommand.Server.Deployments;

/// <summary>Turns stored deployments into what ARM shows.</summary>
public static class DeploymentViews
{
    public const string DeploymentType = "Microsoft.Resources/deployments";

    /// <summary>
    /// The deployment as <paramref name="viewer"/> may see it: resources on machines whose run commands the viewer may
    /// not read are left out of the output resources and dependencies (ARM shows nothing more than the resources' own APIs).
    /// </summary>
    public static DeploymentResource ToResource(DeploymentRecord record, DateTimeOffset now, CallerGrants viewer)
    {
        var byIndex = record.Operations.ToDictionary(o => o.Plan.Index);
        var lastChange = new[] { (DateTimeOffset?)record.Created, record.Ended }
            .Concat(record.Operations.SelectMany(o => new[] { o.Started, o.Ended })).Max();
        return new DeploymentResource
        {
            Id = record.Deployment.ResourceId,
            Name = record.Deployment.Name,
            Type = DeploymentType,
            Properties = new DeploymentProperties
            {
                Mode = "Incremental",
                ProvisioningState = record.State.ToString(),
                Timestamp = lastChange,
                Duration = XmlConvert.ToString((record.Ended ?? now) - record.Created),
                StartTime = record.Created,
                EndTime = record.Ended,
                OutputResources = record.Operations.Where(o => o.ExecutionId is not null && IsVisible(o.Plan, viewer)).Select(o => new ResourceReference { Id = o.Plan.ResourceId }).ToList(),
                Dependencies = record.Operations.Where(o => o.Plan.DependsOn.Count > 0 && IsVisible(o.Plan, viewer)).Select(o => new DeploymentDependency
                {
                    Id = o.Plan.ResourceId,
                    ResourceType = o.Plan.ResourceType,
                    ResourceName = o.Plan.ResourceName,
                    DependsOn = o.Plan.DependsOn.Select(i => byIndex[i].Plan).Where(d => IsVisible(d, viewer)).Select(d => new DeploymentDependency
                    {
                        Id = d.ResourceId,
                        ResourceType = d.ResourceType,
                        ResourceName = d.ResourceName,
                    }).ToList(),
                }).ToList(),
                Error = record.Error,
            },
        };
    }

    /// <summary>The operations that have started (ARM lists nothing for a resource it has not begun) on machines the viewer may read.</summary>
    public static IReadOnlyList<DeploymentOperation> ToOperations(DeploymentRecord record, DateTimeOffset now, CallerGrants viewer) =>
        record.Operations.Where(o => o.State is not null && IsVisible(o.Plan, viewer)).Select(o => new DeploymentOperation
        {
            Id = $"{record.Deployment.ResourceId}/operations/{o.Plan.OperationId}",
            OperationId = o.Plan.OperationId,
            Properties = new DeploymentOperationProperties
            {
                ProvisioningState = o.State!.Value.ToString(),
                Timestamp = o.Ended ?? o.Started,
                Duration = o.Started is { } started ? XmlConvert.ToString((o.Ended ?? now) - started) : null,
                StartTime = o.Started,
                EndTime = o.Ended,
                StatusCode = o.StatusCode,
                StatusMessage = o.Error is null ? null : new DeploymentStatusMessage { Status = o.State.ToString(), Error = o.Error },
                TargetResource = new DeploymentTargetResource { Id = o.Plan.ResourceId, ResourceType = o.Plan.ResourceType, ResourceName = o.Plan.ResourceName },
            },
        }).ToList();

    private static bool IsVisible(DeploymentOperationPlan plan, CallerGrants viewer) =>
        viewer.CanReadMachine(StorageFormat.ParseRunCommandId(plan.ResourceId).Vm);
}
