using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Agents;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Arm;

/// <summary>
/// Views of subscriptions, VMs and scale sets (machines are created by their agents' enrollment); a VM's tags are the
/// one thing the API changes.
/// </summary>
public static class VirtualMachineEndpoints
{
    public static void MapVirtualMachines(this IEndpointRouteBuilder app)
    {
        app.MapGet("/subscriptions", ListSubscriptions).AllowAnyAuthenticatedCaller();
        app.MapGet("/subscriptions/{subscriptionId}/providers/Microsoft.Compute/virtualMachines", ListAsync).RequireArmAction(Actions.VirtualMachinesRead, checkedByHandler: true);
        app.MapGet("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines", ListAsync).RequireArmAction(Actions.VirtualMachinesRead, checkedByHandler: true);
        app.MapGet("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}", GetAsync).RequireArmAction(Actions.VirtualMachinesRead);
        app.MapPost("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}/revokeAgent", RevokeAgentAsync)
            .RequireArmAction(Actions.RevokeAgent);
        app.MapPatch("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}", PatchAsync)
            .RequireArmAction(Actions.VirtualMachinesWrite);
        app.MapGet("/subscriptions/{subscriptionId}/providers/Microsoft.Compute/virtualMachineScaleSets", ListScaleSetsAsync).RequireArmAction(Actions.ScaleSetsRead, checkedByHandler: true);
        app.MapGet("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets", ListScaleSetsAsync).RequireArmAction(Actions.ScaleSetsRead, checkedByHandler: true);
        app.MapGet("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}", GetScaleSetAsync)
            .RequireArmAction(Actions.ScaleSetsRead);
        app.MapGet("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}/virtualMachines", ListInstancesAsync)
            .RequireArmAction(Actions.ScaleSetVirtualMachinesRead);
        app.MapGet(RunCommandEndpoints.InstancePath, GetInstanceAsync).RequireArmAction(Actions.ScaleSetVirtualMachinesRead);
        app.MapGet("/healthz", () => Results.Text("ok"));
    }

    private static IResult ListSubscriptions(HttpRequest request, ServerIdentity identity)
    {
        ArmNames.RequireApiVersion(request);
        var subscription = new SubscriptionResource
        {
            Id = "/subscriptions/" + identity.SubscriptionId,
            SubscriptionId = identity.SubscriptionId,
            DisplayName = "default",
            State = "Enabled",
            Location = identity.Location,
        };
        return Results.Json(new ResourceList<SubscriptionResource> { Value = [subscription] }, ContractsJsonContext.Default.ResourceListSubscriptionResource);
    }

    private static async Task<IResult> ListAsync(HttpContext http, string subscriptionId, string? resourceGroupName, IMachineStore store, AgentPresence presence, ServerIdentity identity, Authorizer authorizer, CancellationToken cancellationToken)
    {
        var request = http.Request;
        ArmNames.RequireComputeApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        if (resourceGroupName is not null && ArmNames.CheckResourceGroup(resourceGroupName).ToList() is { Count: > 0 } errors)
        {
            throw new ArmRequestException(errors);
        }

        // Only the VMs the caller may read are listed (a role on one resource group sees that group's VMs).
        var viewer = await authorizer.GrantsOfAsync(http.Caller(), cancellationToken);
        var vms = (await store.ListVmsAsync(identity.SubscriptionId, resourceGroupName, cancellationToken))
            .Where(vm => viewer.IsAllowed(Actions.VirtualMachinesRead, vm.Vm.ResourceId)).ToList();

        return Results.Json(new ResourceList<VirtualMachineResource> { Value = vms.Select(vm => ToResource(vm, presence)).ToList() },
            ContractsJsonContext.Default.ResourceListVirtualMachineResource);
    }

    private static async Task<IResult> GetAsync(HttpRequest request, string subscriptionId, string resourceGroupName, string vmName, RunCommandService service, AgentPresence presence, CancellationToken cancellationToken)
    {
        var vm = service.ResolveVm(request, subscriptionId, resourceGroupName, vmName);
        var record = await service.RequireVmAsync(vm, cancellationToken);
        return Results.Json(ToResource(record, presence), ContractsJsonContext.Default.VirtualMachineResource);
    }

    /// <summary>Deletes the VM's agent credential: the agent is refused at its next request (a waiting poll included).</summary>
    private static async Task<IResult> RevokeAgentAsync(HttpRequest request, string subscriptionId, string resourceGroupName, string vmName, RunCommandService service, CancellationToken cancellationToken)
    {
        var vm = service.ResolveVm(request, subscriptionId, resourceGroupName, vmName);
        var record = await service.RequireVmAsync(vm, cancellationToken);
        await service.Machines.RevokeAgentAsync(record.Vm, cancellationToken);
        return Results.Ok();
    }

    /// <summary>ARM PATCH of a VM: <c>{"tags":{...}}</c> replaces the tags (the only mutable part of a RunCommand VM).</summary>
    private static async Task<IResult> PatchAsync(HttpRequest request, string subscriptionId, string resourceGroupName, string vmName, RunCommandService service, AgentPresence presence, CancellationToken cancellationToken)
    {
        var vm = service.ResolveVm(request, subscriptionId, resourceGroupName, vmName);
        var existing = await service.RequireVmAsync(vm, cancellationToken);
        var update = await ArmBody.ReadAsync(request, ContractsJsonContext.Default.VirtualMachineUpdate, cancellationToken);

        if (update?.Tags is { } tags && tags.Keys.FirstOrDefault(k => k.Length is 0 or > 512) is { } badKey)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidParameter", $"The tag name '{badKey}' must be 1-512 characters.", "tags");
        }

        var record = update?.Tags is null ? existing : await service.Machines.SetVmTagsAsync(existing.Vm, update.Tags, cancellationToken) ?? throw new InvalidOperationException("The VM vanished.");
        return Results.Json(ToResource(record, presence), ContractsJsonContext.Default.VirtualMachineResource);
    }

    private static async Task<IResult> GetScaleSetAsync(HttpRequest request, string subscriptionId, string resourceGroupName, string vmScaleSetName, RunCommandService service, CancellationToken cancellationToken)
    {
        var scaleSet = await RequireScaleSetAsync(request, subscriptionId, resourceGroupName, vmScaleSetName, service, cancellationToken);
        var instances = await service.Machines.ListScaleSetInstancesAsync(new ScaleSetKey(service.SubscriptionId, resourceGroupName, vmScaleSetName), cancellationToken);
        return Results.Json(new VirtualMachineScaleSetResource
        {
            Id = scaleSet.ResourceId,
            Name = scaleSet.Name,
            Location = scaleSet.Location,
            Properties = new VirtualMachineScaleSetProperties { InstanceCount = instances.Count },
        }, ContractsJsonContext.Default.VirtualMachineScaleSetResource);
    }

    /// <summary>ARM's scale set lists (<c>VirtualMachineScaleSets_ListAll</c> and <c>_List</c>): only those the caller may read.</summary>
    private static async Task<IResult> ListScaleSetsAsync(HttpContext http, string subscriptionId, string? resourceGroupName, IMachineStore store, ServerIdentity identity, Authorizer authorizer, CancellationToken cancellationToken)
    {
        ArmNames.RequireComputeApiVersion(http.Request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        if (resourceGroupName is not null && ArmNames.CheckResourceGroup(resourceGroupName).ToList() is { Count: > 0 } errors)
        {
            throw new ArmRequestException(errors);
        }

        // A scale set exists once an instance has enrolled, so the instances name every scale set.
        var scaleSets = new List<VirtualMachineScaleSetResource>();
        var machines = await store.ListMachinesAsync(identity.SubscriptionId, resourceGroupName, cancellationToken);
        foreach (var group in machines.Where(m => m.Vm.IsScaleSetInstance)
            .GroupBy(m => (ResourceGroup: m.Vm.ResourceGroup.ToUpperInvariant(), ScaleSet: m.Vm.ScaleSetName!.ToUpperInvariant())))
        {
            var first = group.First();
            var id = $"/subscriptions/{identity.SubscriptionId}/resourceGroups/{first.Vm.ResourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/{first.Vm.ScaleSetName}";
            if (await authorizer.IsAllowedAsync(http.Caller(), Actions.ScaleSetsRead, id, cancellationToken))
            {
                scaleSets.Add(new VirtualMachineScaleSetResource
                {
                    Id = id,
                    Name = first.Vm.ScaleSetName!,
                    Location = first.Location,
                    Properties = new VirtualMachineScaleSetProperties { InstanceCount = group.Count() },
                });
            }
        }

        return Results.Json(new ResourceList<VirtualMachineScaleSetResource> { Value = scaleSets }, ContractsJsonContext.Default.ResourceListVirtualMachineScaleSetResource);
    }

    private static async Task<ScaleSetRecord> RequireScaleSetAsync(HttpRequest request, string subscriptionId, string resourceGroupName, string vmScaleSetName, RunCommandService service, CancellationToken cancellationToken)
    {
        ArmNames.RequireComputeApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, service.SubscriptionId);
        if (ArmNames.CheckResourceGroup(resourceGroupName).Concat(ArmNames.CheckVmName(vmScaleSetName)).ToList() is { Count: > 0 } errors)
        {
            throw new ArmRequestException(errors);
        }

        return await service.Machines.GetScaleSetAsync(new ScaleSetKey(service.SubscriptionId, resourceGroupName, vmScaleSetName), cancellationToken)
            ?? throw new ArmRequestException(StatusCodes.Status404NotFound, "ResourceNotFound",
                $"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}' under resource group '{resourceGroupName}' was not found. A scale set exists once an agent has enrolled into it (./runcmd agent --vmss-name {vmScaleSetName}).");
    }

    /// <summary>The instances of a scale set with their agents' status (<c>GET .../virtualMachineScaleSets/{vmss}/virtualMachines</c>).</summary>
    private static async Task<IResult> ListInstancesAsync(HttpRequest request, string subscriptionId, string resourceGroupName, string vmScaleSetName, RunCommandService service, AgentPresence presence, CancellationToken cancellationToken)
    {
        await RequireScaleSetAsync(request, subscriptionId, resourceGroupName, vmScaleSetName, service, cancellationToken);
        var instances = await service.Machines.ListScaleSetInstancesAsync(new ScaleSetKey(service.SubscriptionId, resourceGroupName, vmScaleSetName), cancellationToken);
        return Results.Json(new ResourceList<VirtualMachineResource> { Value = instances.Select(vm => ToResource(vm, presence)).ToList() },
            ContractsJsonContext.Default.ResourceListVirtualMachineResource);
    }

    private static async Task<IResult> GetInstanceAsync(HttpRequest request, string subscriptionId, string resourceGroupName, string vmScaleSetName, string instanceId, RunCommandService service, AgentPresence presence, CancellationToken cancellationToken)
    {
        var vm = service.ResolveInstance(request, subscriptionId, resourceGroupName, vmScaleSetName, instanceId);
        var record = await service.RequireVmAsync(vm, cancellationToken);
        return Results.Json(ToResource(record, presence), ContractsJsonContext.Default.VirtualMachineResource);
    }

    public static VirtualMachineResource ToResource(VmRecord vm, AgentPresence presence) => new()
    {
        Id = vm.Vm.ResourceId,
        Name = vm.Vm.IsScaleSetInstance ? $"{vm.Vm.ScaleSetName}_{vm.Vm.VmName}" : vm.Vm.VmName,
        Type = vm.Vm.IsScaleSetInstance ? ResourceTypes.VmssVirtualMachine : ResourceTypes.VirtualMachine,
        InstanceId = vm.Vm.IsScaleSetInstance ? vm.Vm.VmName : null,
        Location = vm.Location,
        Tags = vm.Tags,
        Properties = new VirtualMachineProperties
        {
            VmId = vm.VmId,
            AgentInstanceView = new VirtualMachineAgentView
            {
                Status = presence.StatusOf(vm),
                LastContact = presence.LastContact(vm),
                AgentVersion = vm.AgentVersion,
                Hostname = vm.Hostname,
            },
        },
    };
}
