using System.Text.Json;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Deployments;

/// <summary>
/// <c>Microsoft.Resources/deployments</c> at resource-group scope: PUT validates and plans the template (every error
/// at once, a 400), stores the plan and hands it to <see cref="DeploymentRunner"/>; GET, list, operations and the
/// operation status read the store; DELETE cancels what has not started and removes the record.
/// </summary>
public static class DeploymentEndpoints
{
    /// <summary>Oldest and newest api-version of Microsoft.Resources this server accepts.</summary>
    public const string OldestApiVersion = "2016-09-01";
    public const string NewestApiVersion = "2025-04-01";

    private const string Path = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}/providers/Microsoft.Resources/deployments";

    public static void MapDeployments(this IEndpointRouteBuilder app)
    {
        app.MapPut(Path + "/{deploymentName}", PutAsync).RequireArmAction(Actions.DeploymentsWrite);
        app.MapGet(Path + "/{deploymentName}", GetAsync).RequireArmAction(Actions.DeploymentsRead);
        app.MapGet(Path, ListAsync).RequireArmAction(Actions.DeploymentsRead);
        app.MapDelete(Path + "/{deploymentName}", DeleteAsync).RequireArmAction(Actions.DeploymentsDelete);
        app.MapPost(Path + "/{deploymentName}/cancel", CancelAsync).RequireArmAction(Actions.DeploymentsCancel);
        app.MapGet(Path + "/{deploymentName}/operations", OperationsAsync).RequireArmAction(Actions.DeploymentsRead);
        app.MapGet(Path + "/{deploymentName}/operationStatuses/{deploymentId}", StatusAsync).RequireArmAction(Actions.DeploymentsRead);
    }

    private static DeploymentKey Resolve(HttpRequest request, ServerIdentity identity, string subscriptionId, string resourceGroupName, string? deploymentName)
    {
        var version = ArmNames.RequireApiVersion(request);
        var date = version.Split("-preview")[0];
        if (string.CompareOrdinal(date, OldestApiVersion) < 0 || string.CompareOrdinal(date, NewestApiVersion) > 0)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidApiVersionParameter",
                $"The api-version '{version}' is invalid. The supported versions of Microsoft.Resources are from '{OldestApiVersion}' to '{NewestApiVersion}'.", "api-version");
        }

        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        var errors = ArmNames.CheckResourceGroup(resourceGroupName).ToList();
        if (deploymentName is not null && (deploymentName.Length is 0 or > 64 || !deploymentName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '(' or ')')))
        {
            errors.Add(ArmNames.Invalid("InvalidDeploymentName", "deploymentName",
                $"Deployment name '{deploymentName}' is invalid: use 1-64 letters, digits, '-', '_', '.', '(' or ')'."));
        }

        if (errors.Count > 0)
        {
            throw new ArmRequestException(errors);
        }

        return new DeploymentKey(identity.SubscriptionId, resourceGroupName, deploymentName ?? "");
    }

    private static async Task<IResult> PutAsync(HttpContext http, string subscriptionId, string resourceGroupName, string deploymentName,
        IDeploymentStore store, IMachineStore machineStore, SecretProtector protector, ServerIdentity identity, DeploymentRunner runner, Authorizer authorizer, TimeProvider time, CancellationToken cancellationToken)
    {
        var key = Resolve(http.Request, identity, subscriptionId, resourceGroupName, deploymentName);
        using var document = await ArmBody.ReadJsonAsync(http.Request, cancellationToken);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidRequestContent", "The request body must be {\"properties\":{\"template\":{...},\"parameters\":{...},\"mode\":\"Incremental\"}}.", "properties");
        }

        var errors = new List<ArmError>();
        if (!properties.TryGetProperty("mode", out var mode) || mode.ValueKind != JsonValueKind.String)
        {
            // As ARM: the mode is required, and a string.
            errors.Add(ArmNames.Invalid("InvalidRequestContent", "properties.mode", "'properties.mode' is required: \"Incremental\"."));
        }
        else if (!string.Equals(mode.GetString(), "Incremental", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(ArmNames.Invalid("InvalidDeploymentMode", "properties.mode", $"The mode '{mode.GetString()}' is not supported: RunCommand deploys in Incremental mode only."));
        }

        if (properties.TryGetProperty("templateLink", out _) || properties.TryGetProperty("parametersLink", out _))
        {
            errors.Add(ArmNames.Invalid("InvalidTemplate", "properties.templateLink", "templateLink and parametersLink are not supported: give the template and parameters inline."));
        }

        if (!properties.TryGetProperty("template", out var template) || template.ValueKind != JsonValueKind.Object)
        {
            errors.Add(ArmNames.Invalid("InvalidTemplate", "properties.template", "The 'properties.template' object is required."));
        }

        if (errors.Count > 0)
        {
            throw new ArmRequestException(errors);
        }

        var parameters = properties.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object ? p : (JsonElement?)null;
        var machines = await machineStore.ListMachinesAsync(identity.SubscriptionId, resourceGroupName, cancellationToken);
        var scope = new ExpressionScope { SubscriptionId = identity.SubscriptionId, ResourceGroup = resourceGroupName, Location = identity.Location };
        var (resources, planErrors) = TemplatePlanner.Plan(template, parameters, scope, machines.Select(m => m.Vm));
        if (planErrors.Count > 0)
        {
            throw new ArmRequestException(planErrors);
        }

        // Checked now for machines that exist, so a wrong location is a 400 before anything runs (it would fail that operation later).
        var byKey = machines.ToDictionary(m => m.Vm.Key);
        var locationErrors = resources
            .Select(r => (Resource: r, Machine: byKey.GetValueOrDefault(StorageFormat.ParseRunCommandId(r.ResourceId).Vm.Key), Location: r.Body["location"]?.GetValue<string>()))
            .Where(x => x.Machine is not null && x.Location is not null && !Locations.Same(x.Location, x.Machine.Location))
            .Select(x => ArmNames.Invalid("InvalidParameter", $"resources[{x.Resource.Index}]({x.Resource.DisplayName}).location",
                $"The location '{x.Location}' of '{x.Resource.DisplayName}' does not match the location of {MachineNoun(x.Machine!.Vm)} ('{x.Machine.Location}')."))
            .ToList();
        if (locationErrors.Count > 0)
        {
            throw new ArmRequestException(locationErrors);
        }

        // As in ARM, a deployment may only create what its caller could create directly: no escalation through
        // deployments/write alone. A scale-set instance's run commands have their own action.
        foreach (var resource in resources)
        {
            var machineScope = resource.ResourceId[..resource.ResourceId.LastIndexOf("/runCommands/", StringComparison.OrdinalIgnoreCase)];
            var action = resource.ScaleSetName is null ? Actions.RunCommandsWrite : Actions.ScaleSetRunCommandsWrite;
            if (!await authorizer.IsAllowedAsync(http.Caller(), action, machineScope, cancellationToken))
            {
                throw Authorizer.Denied(http.Caller(), action, machineScope);
            }
        }

        var write = new DeploymentWrite
        {
            Deployment = key,
            DeploymentId = Guid.NewGuid().ToString(),
            Operations = resources.Select(r => new DeploymentOperationPlan
            {
                Index = r.Index,
                OperationId = Guid.NewGuid().ToString("N").ToUpperInvariant(),
                ResourceId = r.ResourceId,
                ResourceName = r.DisplayName,
                ResourceType = r.ResourceType,
                DependsOn = r.DependsOn,
                SealedBody = protector.SealBytes(JsonSerializer.SerializeToUtf8Bytes(r.Body)),
            }).ToList(),
        };

        // Durable from here: once PutDeploymentAsync returns, a restart resumes the deployment even if Start below never ran.
        var outcome = await store.PutDeploymentAsync(write, time.GetUtcNow(), cancellationToken);
        if (outcome == DeploymentPutOutcome.Active)
        {
            return ArmResults.Conflict("DeploymentActive",
                $"The deployment '{deploymentName}' is still running. Wait for it to finish, or cancel it (DELETE, or POST .../cancel), before deploying again.");
        }

        runner.Start(key);
        var record = await store.GetDeploymentAsync(key, cancellationToken) ?? throw new InvalidOperationException("The deployment vanished right after it was written.");
        http.Response.Headers["Azure-AsyncOperation"] = StatusUrl(http.Request, record);
        http.Response.Headers.RetryAfter = "1";
        return Results.Json(DeploymentViews.ToResource(record, time.GetUtcNow(), await authorizer.GrantsOfAsync(http.Caller(), cancellationToken)), ContractsJsonContext.Default.DeploymentResource,
            statusCode: outcome == DeploymentPutOutcome.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task<IResult> GetAsync(HttpContext http, string subscriptionId, string resourceGroupName, string deploymentName,
        IDeploymentStore store, ServerIdentity identity, TimeProvider time, Authorizer authorizer, CancellationToken cancellationToken)
    {
        var record = await RequireAsync(http, store, identity, subscriptionId, resourceGroupName, deploymentName, cancellationToken);
        return Results.Json(DeploymentViews.ToResource(record, time.GetUtcNow(), await authorizer.GrantsOfAsync(http.Caller(), cancellationToken)), ContractsJsonContext.Default.DeploymentResource);
    }

    private static async Task<IResult> ListAsync(HttpContext http, string subscriptionId, string resourceGroupName,
        IDeploymentStore store, ServerIdentity identity, TimeProvider time, Authorizer authorizer, CancellationToken cancellationToken)
    {
        Resolve(http.Request, identity, subscriptionId, resourceGroupName, null);
        var records = await store.ListDeploymentsAsync(identity.SubscriptionId, resourceGroupName, cancellationToken);
        var now = time.GetUtcNow();
        var viewer = await authorizer.GrantsOfAsync(http.Caller(), cancellationToken);
        return Results.Json(new ResourceList<DeploymentResource> { Value = records.Select(r => DeploymentViews.ToResource(r, now, viewer)).ToList() },
            ContractsJsonContext.Default.ResourceListDeploymentResource);
    }

    private static async Task<IResult> OperationsAsync(HttpContext http, string subscriptionId, string resourceGroupName, string deploymentName,
        IDeploymentStore store, ServerIdentity identity, TimeProvider time, Authorizer authorizer, CancellationToken cancellationToken)
    {
        var record = await RequireAsync(http, store, identity, subscriptionId, resourceGroupName, deploymentName, cancellationToken);
        var viewer = await authorizer.GrantsOfAsync(http.Caller(), cancellationToken);
        return Results.Json(new ResourceList<DeploymentOperation> { Value = DeploymentViews.ToOperations(record, time.GetUtcNow(), viewer) },
            ContractsJsonContext.Default.ResourceListDeploymentOperation);
    }

    /// <summary>The deployment's status; with <c>waitSeconds</c> (RunCommand's long-poll extension) held until it ends or the wait does.</summary>
    private static async Task<IResult> StatusAsync(HttpContext http, string subscriptionId, string resourceGroupName, string deploymentName, string deploymentId,
        IDeploymentStore store, IChangeFeed changes, RunCommandService service, ServerIdentity identity, TimeProvider time, LongPolls polls, CancellationToken cancellationToken)
    {
        var key = Resolve(http.Request, identity, subscriptionId, resourceGroupName, deploymentName);
        var deadline = time.GetUtcNow() + service.ReadWait(http.Request);
        DeploymentRecord? record;
        while (true)
        {
            var changed = changes.NextChangeAsync(Topics.Deployment(key));
            record = await store.GetDeploymentAsync(key, cancellationToken);
            var remaining = deadline - time.GetUtcNow();
            if (record is null || record.IsTerminal || remaining <= TimeSpan.Zero || polls.Stopping)
            {
                break;
            }

            await polls.WaitAsync(changed, remaining, cancellationToken);
        }

        if (record is null || record.DeploymentId != deploymentId)
        {
            return ArmResults.NotFound($"The operation '{deploymentId}' of deployment '{deploymentName}' was not found.");
        }

        if (!record.IsTerminal)
        {
            http.Response.Headers.RetryAfter = "1";
        }

        return Results.Json(new AsyncOperation
        {
            Name = record.DeploymentId,
            Status = (record.State == DeploymentState.Accepted ? DeploymentState.Running : record.State).ToString(),
            StartTime = record.Created,
            EndTime = record.Ended,
            Error = record.Error,
        }, ContractsJsonContext.Default.AsyncOperation);
    }

    /// <summary>
    /// Removes the record (ARM semantics: the run commands it created stay). A deployment still running is canceled
    /// first: what has not started never starts; run commands already running finish on their own.
    /// </summary>
    private static async Task<IResult> DeleteAsync(HttpContext http, string subscriptionId, string resourceGroupName, string deploymentName,
        IDeploymentStore store, ServerIdentity identity, TimeProvider time, CancellationToken cancellationToken)
    {
        var key = Resolve(http.Request, identity, subscriptionId, resourceGroupName, deploymentName);
        if (await store.GetDeploymentAsync(key, cancellationToken) is { IsTerminal: false } running)
        {
            await store.FinishDeploymentAsync(key, running.DeploymentId, DeploymentState.Canceled, Canceled(), time.GetUtcNow(), cancellationToken);
        }

        // The REST specification lists 202 and 204 for this long-running delete (the Azure SDK refuses a 200); the record
        // is gone when the answer leaves, so the 202 carries nothing to poll.
        return await store.DeleteDeploymentAsync(key, cancellationToken) ? Results.StatusCode(StatusCodes.Status202Accepted) : Results.NoContent();
    }

    private static async Task<IResult> CancelAsync(HttpContext http, string subscriptionId, string resourceGroupName, string deploymentName,
        IDeploymentStore store, ServerIdentity identity, TimeProvider time, CancellationToken cancellationToken)
    {
        var record = await RequireAsync(http, store, identity, subscriptionId, resourceGroupName, deploymentName, cancellationToken);
        if (record.IsTerminal || !await store.FinishDeploymentAsync(record.Deployment, record.DeploymentId, DeploymentState.Canceled, Canceled(), time.GetUtcNow(), cancellationToken))
        {
            return ArmResults.Conflict("DeploymentCannotBeCancelled", $"The deployment '{deploymentName}' has already finished ({record.State}).");
        }

        return Results.NoContent();
    }

    private static ArmError Canceled() => new()
    {
        Code = "DeploymentCanceled",
        Message = "The deployment was canceled: resources not yet started were not started; run commands already running finish on their own.",
    };

    private static async Task<DeploymentRecord> RequireAsync(HttpContext http, IDeploymentStore store, ServerIdentity identity, string subscriptionId, string resourceGroupName, string deploymentName, CancellationToken cancellationToken)
    {
        var key = Resolve(http.Request, identity, subscriptionId, resourceGroupName, deploymentName);
        return await store.GetDeploymentAsync(key, cancellationToken)
            ?? throw new ArmRequestException(StatusCodes.Status404NotFound, "DeploymentNotFound",
                $"Deployment '{deploymentName}' could not be found in resource group '{resourceGroupName}'.");
    }

    private static string MachineNoun(VmKey machine) => machine.ScaleSetName is { } scaleSet
        ? $"instance '{machine.VmName}' of scale set '{scaleSet}'"
        : $"virtual machine '{machine.VmName}'";

    private static string StatusUrl(HttpRequest request, DeploymentRecord record) =>
        $"{RunCommandEndpoints.BaseUrl(request)}{record.Deployment.ResourceId}/operationStatuses/{record.DeploymentId}?api-version={Uri.EscapeDataString(request.Query["api-version"].ToString())}";
}
