using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Agents;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Arm;

/// <summary>Read-only views of subscriptions and VMs (VMs are created by their agents' enrollment).</summary>
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

    private static async Task<IResult> ListAsync(HttpContext http, string subscriptionId, string? resourceGroupName, IRunCommandStore store, AgentPresence presence, ServerIdentity identity, Authorizer authorizer, CancellationToken cancellationToken)
    {
        var request = http.Request;
        ArmNames.RequireComputeApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        if (resourceGroupName is not null && ArmNames.CheckResourceGroup(resourceGroupName).ToList() is { Count: > 0 } errors)
        {
            throw new ArmRequestException(errors);
        }

        // Only the VMs the caller may read are listed (a role on one resource group sees that group's VMs).
        var vms = new List<VmRecord>();
        foreach (var vm in await store.ListVmsAsync(identity.SubscriptionId, resourceGroupName, cancellationToken))
        {
            if (await authorizer.IsAllowedAsync(http.Caller(), Actions.VirtualMachinesRead, vm.Vm.ResourceId, cancellationToken))
            {
                vms.Add(vm);
            }
        }

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
        await service.Store.RevokeAgentAsync(record.Vm, cancellationToken);
        return Results.Ok();
    }

    private static VirtualMachineResource ToResource(VmRecord vm, AgentPresence presence) => new()
    {
        Id = vm.Vm.ResourceId,
        Name = vm.Vm.VmName,
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
