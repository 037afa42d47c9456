using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// What the caller may do, so a client can hide what would only earn a 403 (the server still checks every request):
/// ARM's <c>GET {scope}/providers/Microsoft.Authorization/permissions</c>, and RunCommand's
/// <c>GET /providers/Microsoft.Authorization/signedInPrincipal</c> (who the token belongs to and its roles). Any
/// authenticated caller may ask about itself.
/// </summary>
public static class PermissionEndpoints
{
    private const string Permissions = "/providers/Microsoft.Authorization/permissions";

    private static readonly string[] Scopes =
    [
        "/subscriptions/{subscriptionId}",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}",
        RunCommandEndpoints.InstancePath,
    ];

    public static void MapPermissions(this IEndpointRouteBuilder app)
    {
        foreach (var scope in Scopes)
        {
            app.MapGet(scope + Permissions, ListAsync).AllowAnyAuthenticatedCaller();
        }

        app.MapGet("/providers/Microsoft.Authorization/signedInPrincipal", SignedInAsync).AllowAnyAuthenticatedCaller();
    }

    /// <summary>
    /// One entry per role the caller holds at the scope or above it (ARM's shape: a client matches an action against
    /// each entry's actions minus its notActions). Empty: the caller may do nothing there.
    /// </summary>
    private static async Task<IResult> ListAsync(HttpContext http, Authorizer authorizer, ServerIdentity identity, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(http.Request);
        if (http.Request.RouteValues["subscriptionId"] is string subscriptionId)
        {
            ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        }

        var scope = ArmScope.Of(http);
        var roles = await authorizer.RolesAsync(cancellationToken);
        var held = await authorizer.AssignmentsAsync(http.Caller(), cancellationToken);
        var items = held
            .Where(a => ActionPattern.IsAtOrBelow(scope, a.Scope))
            .Select(a => roles.GetValueOrDefault(a.RoleDefinitionId))
            .OfType<RoleDefinitionRecord>()
            .Select(role => new RolePermission { Actions = role.Actions, NotActions = role.NotActions, DataActions = [], NotDataActions = [] })
            .ToList();
        return Results.Json(new ResourceList<RolePermission> { Value = items }, ContractsJsonContext.Default.ResourceListRolePermission);
    }

    private static async Task<IResult> SignedInAsync(HttpContext http, Authorizer authorizer, IIdentityStore store, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(http.Request);
        var caller = http.Caller();
        var roles = await authorizer.RolesAsync(cancellationToken);
        var held = (await authorizer.AssignmentsAsync(caller, cancellationToken))
            .Select(a => new SignedInRole
            {
                RoleName = roles.GetValueOrDefault(a.RoleDefinitionId)?.RoleName ?? a.RoleDefinitionId,
                RoleDefinitionId = a.RoleDefinitionId,
                Scope = a.Scope,
            })
            .ToList();
        var principal = caller.Kind == Caller.Admin || caller.PrincipalId is null ? null : await store.FindPrincipalAsync(caller.PrincipalId, cancellationToken);
        return Results.Json(new SignedInPrincipal
        {
            Id = caller.PrincipalId ?? "",
            Name = caller.Name,
            PrincipalType = (principal?.Kind ?? PrincipalKind.ServicePrincipal).ToString(),
            DisplayName = principal?.DisplayName ?? (caller.Kind == Caller.Admin ? "Bootstrap admin (admin.token)" : null),
            Roles = held,
        }, ContractsJsonContext.Default.SignedInPrincipal);
    }
}
