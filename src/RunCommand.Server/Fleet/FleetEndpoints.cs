using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;

namespace RunCommand.Server.Fleet;

/// <summary>
/// Fleet runs, RunCommand's own ARM-style resource beyond Azure (docs/fleet-runs.md):
/// <c>/subscriptions/{sub}/resourceGroups/{rg}/providers/RunCommand.Fleet/runs/{name}</c>.
/// </summary>
public static class FleetEndpoints
{
    private const string RunsPath = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/RunCommand.Fleet/runs";

    public static void MapFleetRuns(this IEndpointRouteBuilder app)
    {
        app.MapPut(RunsPath + "/{runName}", PutAsync).RequireArmAction(Actions.FleetRunsWrite);
        app.MapGet(RunsPath + "/{runName}", GetAsync).RequireArmAction(Actions.FleetRunsRead);
        app.MapGet(RunsPath, ListAsync).RequireArmAction(Actions.FleetRunsRead);
        app.MapPost(RunsPath + "/{runName}/cancel", CancelAsync).RequireArmAction(Actions.FleetRunsCancel);
    }

    private static async Task<IResult> PutAsync(HttpContext http, string subscriptionId, string resourceGroupName, string runName, FleetService fleet, Authorizer authorizer, CancellationToken cancellationToken)
    {
        var key = fleet.Resolve(http.Request, subscriptionId, resourceGroupName, runName);
        using var document = await ArmBody.ReadJsonAsync(http.Request, cancellationToken);
        var viewer = await authorizer.GrantsOfAsync(http.Caller(), cancellationToken);
        // A fleet run may only run what its caller could run on each machine directly.
        return await fleet.CreateAsync(key, document.RootElement, async machine =>
        {
            var action = machine.ScaleSetName is null ? Actions.RunCommandsWrite : Actions.ScaleSetRunCommandsWrite;
            if (!await authorizer.IsAllowedAsync(http.Caller(), action, machine.ResourceId, cancellationToken))
            {
                throw Authorizer.Denied(http.Caller(), action, machine.ResourceId);
            }
        }, viewer, cancellationToken);
    }

    private static async Task<IResult> GetAsync(HttpContext http, string subscriptionId, string resourceGroupName, string runName, FleetService fleet, RunCommandService runCommands, Authorizer authorizer, CancellationToken cancellationToken)
    {
        var key = fleet.Resolve(http.Request, subscriptionId, resourceGroupName, runName);
        var resource = await fleet.GetAsync(key, runCommands.ReadWait(http.Request), await authorizer.GrantsOfAsync(http.Caller(), cancellationToken), cancellationToken);
        return Results.Json(resource, ContractsJsonContext.Default.FleetRunResource);
    }

    private static async Task<IResult> ListAsync(HttpContext http, string subscriptionId, string resourceGroupName, FleetService fleet, ServerIdentity identity, Authorizer authorizer, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(http.Request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        if (ArmNames.CheckResourceGroup(resourceGroupName).ToList() is { Count: > 0 } errors)
        {
            throw new ArmRequestException(errors);
        }

        var runs = await fleet.ListAsync(resourceGroupName, await authorizer.GrantsOfAsync(http.Caller(), cancellationToken), cancellationToken);
        return Results.Json(new ResourceList<FleetRunResource> { Value = runs }, ContractsJsonContext.Default.ResourceListFleetRunResource);
    }

    /// <summary>202: running targets are being stopped and nothing new starts; the run ends Canceled once they have.</summary>
    private static async Task<IResult> CancelAsync(HttpContext http, string subscriptionId, string resourceGroupName, string runName, FleetService fleet, Storage.IFleetRunStore store, CancellationToken cancellationToken)
    {
        var key = fleet.Resolve(http.Request, subscriptionId, resourceGroupName, runName);
        if (!await store.RequestFleetRunCancelAsync(key, cancellationToken))
        {
            await fleet.RequireAsync(key, cancellationToken);
        }

        return Results.StatusCode(StatusCodes.Status202Accepted);
    }
}
