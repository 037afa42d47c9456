using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// ARM's <c>Microsoft.Authorization</c> role definitions (<c>/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions</c>)
/// and role assignments (<c>{scope}/providers/Microsoft.Authorization/roleAssignments</c>, scope "/", a subscription,
/// a resource group, a VM or a scale set).
/// </summary>
public static class RoleEndpoints
{
    private const string Definitions = "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions";
    private const string Assignments = "/providers/Microsoft.Authorization/roleAssignments";

    private static readonly string[] AssignmentScopes =
    [
        "",
        "/subscriptions/{subscriptionId}",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}",
    ];

    public static void MapRoles(this IEndpointRouteBuilder app)
    {
        app.MapGet(Definitions, ListDefinitionsAsync).RequireArmAction(Actions.RoleDefinitionsRead);
        app.MapGet(Definitions + "/{roleDefinitionId}", GetDefinitionAsync).RequireArmAction(Actions.RoleDefinitionsRead);
        app.MapPut(Definitions + "/{roleDefinitionId}", PutDefinitionAsync).RequireArmAction(Actions.RoleDefinitionsWrite);
        app.MapDelete(Definitions + "/{roleDefinitionId}", DeleteDefinitionAsync).RequireArmAction(Actions.RoleDefinitionsDelete);
        foreach (var scope in AssignmentScopes)
        {
            app.MapGet(scope + Assignments, ListAssignmentsAsync).RequireArmAction(Actions.RoleAssignmentsRead);
            app.MapGet(scope + Assignments + "/{assignmentId}", GetAssignmentAsync).RequireArmAction(Actions.RoleAssignmentsRead);
            app.MapPut(scope + Assignments + "/{assignmentId}", PutAssignmentAsync).RequireArmAction(Actions.RoleAssignmentsWrite);
            app.MapDelete(scope + Assignments + "/{assignmentId}", DeleteAssignmentAsync).RequireArmAction(Actions.RoleAssignmentsDelete);
        }
    }

    // ---------------------------------------------------------------- role definitions

    private static async Task<IResult> ListDefinitionsAsync(HttpRequest request, string subscriptionId, Authorizer authorizer, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, identity);
        var roles = (await authorizer.RolesAsync(cancellationToken)).Values.OrderBy(r => !BuiltInRoles.IsBuiltIn(r.Id)).ThenBy(r => r.RoleName, StringComparer.OrdinalIgnoreCase);
        var filter = request.Query["$filter"].FirstOrDefault();
        var roleName = filter is not null && filter.StartsWith("roleName eq '", StringComparison.OrdinalIgnoreCase) ? filter[13..].TrimEnd('\'') : null;
        var items = roles.Where(r => roleName is null || string.Equals(r.RoleName, roleName, StringComparison.OrdinalIgnoreCase))
            .Select(r => ToResource(r, identity.SubscriptionId)).ToList();
        return Results.Json(new ResourceList<RoleDefinitionResource> { Value = items }, ContractsJsonContext.Default.ResourceListRoleDefinitionResource);
    }

    private static async Task<IResult> GetDefinitionAsync(HttpRequest request, string subscriptionId, string roleDefinitionId, Authorizer authorizer, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, identity);
        var roles = await authorizer.RolesAsync(cancellationToken);
        return roles.TryGetValue(roleDefinitionId, out var role)
            ? Results.Json(ToResource(role, identity.SubscriptionId), ContractsJsonContext.Default.RoleDefinitionResource)
            : ArmResults.Error(StatusCodes.Status404NotFound, "RoleDefinitionDoesNotExist", $"The specified role definition with ID '{roleDefinitionId}' does not exist.");
    }

    private static async Task<IResult> PutDefinitionAsync(HttpRequest request, string subscriptionId, string roleDefinitionId, Authorizer authorizer, IIdentityStore store, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, identity);
        var body = await ArmBody.ReadAsync(request, ContractsJsonContext.Default.RoleDefinitionCreate, cancellationToken);
        var properties = body.Properties;
        var errors = new List<ArmError>();
        if (!Guid.TryParse(roleDefinitionId, out _))
        {
            errors.Add(ArmNames.Invalid("InvalidRoleDefinitionId", "roleDefinitionId", $"The role definition id '{roleDefinitionId}' must be a GUID."));
        }

        if (BuiltInRoles.IsBuiltIn(roleDefinitionId))
        {
            errors.Add(ArmNames.Invalid("CannotModifyBuiltInRole", "roleDefinitionId", "Built-in role definitions cannot be changed."));
        }

        var roles = await authorizer.RolesAsync(cancellationToken);
        if (string.IsNullOrWhiteSpace(properties?.RoleName))
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "properties.roleName", "'properties.roleName' is required."));
        }
        else if (roles.Values.Any(r => string.Equals(r.RoleName, properties.RoleName, StringComparison.OrdinalIgnoreCase) && !string.Equals(r.Id, roleDefinitionId, StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add(ArmNames.Invalid("RoleDefinitionWithSameNameExists", "properties.roleName", $"A role definition named '{properties.RoleName}' already exists."));
        }

        var actions = properties?.Permissions?.SelectMany(p => p.Actions ?? []).Where(a => !string.IsNullOrWhiteSpace(a)).ToList() ?? [];
        var notActions = properties?.Permissions?.SelectMany(p => p.NotActions ?? []).Where(a => !string.IsNullOrWhiteSpace(a)).ToList() ?? [];
        if (actions.Count == 0)
        {
            errors.Add(ArmNames.Invalid("InvalidActionOrNotAction", "properties.permissions", "A custom role needs at least one action in 'properties.permissions[].actions'."));
        }

        if (actions.Concat(notActions).FirstOrDefault(a => a.Contains('\n', StringComparison.Ordinal) || a.Length > 256) is { } bad)
        {
            errors.Add(ArmNames.Invalid("InvalidActionOrNotAction", "properties.permissions", $"The action '{bad[..Math.Min(bad.Length, 40)]}' is invalid."));
        }

        var scopes = properties?.AssignableScopes is { Count: > 0 } given ? given.ToList() : ["/subscriptions/" + identity.SubscriptionId];
        if (errors.Count > 0)
        {
            return ArmResults.Validation(errors);
        }

        var role = new RoleDefinitionRecord
        {
            Id = roleDefinitionId.ToLowerInvariant(),
            RoleName = properties!.RoleName!,
            Description = properties.Description,
            Actions = actions,
            NotActions = notActions,
            AssignableScopes = scopes,
        };
        var created = await store.PutRoleDefinitionAsync(role, cancellationToken);
        return Results.Json(ToResource(role, identity.SubscriptionId), ContractsJsonContext.Default.RoleDefinitionResource,
            statusCode: created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task<IResult> DeleteDefinitionAsync(HttpRequest request, string subscriptionId, string roleDefinitionId, IIdentityStore store, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, identity);
        if (BuiltInRoles.IsBuiltIn(roleDefinitionId))
        {
            return ArmResults.Error(StatusCodes.Status400BadRequest, "CannotModifyBuiltInRole", "Built-in role definitions cannot be deleted.");
        }

        var assignments = await store.ListRoleAssignmentsAsync(null, cancellationToken);
        if (assignments.Any(a => string.Equals(a.RoleDefinitionId, roleDefinitionId, StringComparison.OrdinalIgnoreCase)))
        {
            return ArmResults.Conflict("RoleDefinitionHasAssignments", "There are existing role assignments referencing this role; delete them first.");
        }

        return await store.DeleteRoleDefinitionAsync(roleDefinitionId.ToLowerInvariant(), cancellationToken) ? Results.Ok() : Results.NoContent();
    }

    // ---------------------------------------------------------------- role assignments

    private static async Task<IResult> ListAssignmentsAsync(HttpContext http, IIdentityStore store, ServerIdentity identity, CancellationToken cancellationToken)
    {
        var scope = CheckScope(http, identity);
        var principals = (await store.ListPrincipalsAsync(cancellationToken)).ToDictionary(p => p.Id);
        string? principalFilter = null;
        var filter = http.Request.Query["$filter"].FirstOrDefault();
        if (filter is not null && filter.StartsWith("principalId eq '", StringComparison.OrdinalIgnoreCase))
        {
            principalFilter = filter[16..].TrimEnd('\'');
        }

        var all = (await store.ListRoleAssignmentsAsync(null, cancellationToken)).Prepend(Authorizer.AdminAssignment);
        var items = all
            .Where(a => ActionPattern.IsAtOrBelow(scope, a.Scope) || ActionPattern.IsAtOrBelow(a.Scope, scope))
            .Where(a => principalFilter is null || string.Equals(a.PrincipalId, principalFilter, StringComparison.OrdinalIgnoreCase))
            .Select(a => ToResource(a, identity.SubscriptionId, principals.GetValueOrDefault(a.PrincipalId)?.Kind.ToString()))
            .ToList();
        return Results.Json(new ResourceList<RoleAssignmentResource> { Value = items }, ContractsJsonContext.Default.ResourceListRoleAssignmentResource);
    }

    private static async Task<IResult> GetAssignmentAsync(HttpContext http, string assignmentId, IIdentityStore store, ServerIdentity identity, CancellationToken cancellationToken)
    {
        var scope = CheckScope(http, identity);
        var assignment = (await store.ListRoleAssignmentsAsync(null, cancellationToken))
            .FirstOrDefault(a => string.Equals(a.Id, assignmentId, StringComparison.OrdinalIgnoreCase) && string.Equals(a.Scope, scope, StringComparison.OrdinalIgnoreCase));
        return assignment is null
            ? ArmResults.Error(StatusCodes.Status404NotFound, "RoleAssignmentNotFound", $"The role assignment '{assignmentId}' is not found.")
            : Results.Json(ToResource(assignment, identity.SubscriptionId, null), ContractsJsonContext.Default.RoleAssignmentResource);
    }

    private static async Task<IResult> PutAssignmentAsync(HttpContext http, string assignmentId, Authorizer authorizer, IIdentityStore store, ServerIdentity identity, TimeProvider time, CancellationToken cancellationToken)
    {
        var scope = CheckScope(http, identity);
        var body = await ArmBody.ReadAsync(http.Request, ContractsJsonContext.Default.RoleAssignmentCreate, cancellationToken);
        var errors = new List<ArmError>();
        if (!Guid.TryParse(assignmentId, out _))
        {
            errors.Add(ArmNames.Invalid("InvalidRoleAssignmentId", "roleAssignmentId", $"The role assignment id '{assignmentId}' must be a GUID."));
        }

        var principal = body.Properties?.PrincipalId is { Length: > 0 } who ? await store.FindPrincipalAsync(who, cancellationToken) : null;
        if (principal is null)
        {
            errors.Add(ArmNames.Invalid("PrincipalNotFound", "properties.principalId",
                $"Principal '{body.Properties?.PrincipalId}' does not exist (give an object id or a principal name)."));
        }

        var roles = await authorizer.RolesAsync(cancellationToken);
        var roleRef = body.Properties?.RoleDefinitionId ?? "";
        var roleKey = roleRef.Split('/', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        var role = roles.GetValueOrDefault(roleKey) ?? roles.Values.FirstOrDefault(r => string.Equals(r.RoleName, roleRef, StringComparison.OrdinalIgnoreCase));
        if (role is null)
        {
            errors.Add(ArmNames.Invalid("RoleDefinitionDoesNotExist", "properties.roleDefinitionId", $"The role definition '{roleRef}' does not exist."));
        }
        else if (!role.AssignableScopes.Any(s => ActionPattern.IsAtOrBelow(scope, s)))
        {
            errors.Add(ArmNames.Invalid("InvalidScope", "properties.scope", $"The role '{role.RoleName}' cannot be assigned at scope '{scope}' (its assignable scopes: {string.Join(", ", role.AssignableScopes)})."));
        }

        if (errors.Count > 0)
        {
            return ArmResults.Validation(errors);
        }

        var existing = await store.ListRoleAssignmentsAsync(principal!.Id, cancellationToken);
        if (existing.Any(a => string.Equals(a.RoleDefinitionId, role!.Id, StringComparison.OrdinalIgnoreCase) && string.Equals(a.Scope, scope, StringComparison.OrdinalIgnoreCase)))
        {
            return ArmResults.Conflict("RoleAssignmentExists", "The role assignment already exists.");
        }

        var assignment = new RoleAssignmentRecord
        {
            Id = assignmentId.ToLowerInvariant(),
            PrincipalId = principal.Id,
            RoleDefinitionId = role!.Id,
            Scope = scope,
            Created = time.GetUtcNow(),
            CreatedBy = http.Caller().PrincipalId,
        };
        if (!await store.CreateRoleAssignmentAsync(assignment, cancellationToken))
        {
            return ArmResults.Conflict("RoleAssignmentExists", $"A role assignment with id '{assignmentId}' already exists.");
        }

        return Results.Json(ToResource(assignment, identity.SubscriptionId, principal.Kind.ToString()), ContractsJsonContext.Default.RoleAssignmentResource, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> DeleteAssignmentAsync(HttpContext http, string assignmentId, IIdentityStore store, ServerIdentity identity, CancellationToken cancellationToken)
    {
        var scope = CheckScope(http, identity);
        var assignment = (await store.ListRoleAssignmentsAsync(null, cancellationToken))
            .FirstOrDefault(a => string.Equals(a.Id, assignmentId, StringComparison.OrdinalIgnoreCase) && string.Equals(a.Scope, scope, StringComparison.OrdinalIgnoreCase));
        if (assignment is null)
        {
            return Results.NoContent();
        }

        await store.DeleteRoleAssignmentAsync(assignment.Id, cancellationToken);
        return Results.Json(ToResource(assignment, identity.SubscriptionId, null), ContractsJsonContext.Default.RoleAssignmentResource);
    }

    // ---------------------------------------------------------------- shapes

    private static void Check(HttpRequest request, string subscriptionId, ServerIdentity identity)
    {
        ArmNames.RequireApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
    }

    private static string CheckScope(HttpContext http, ServerIdentity identity)
    {
        ArmNames.RequireApiVersion(http.Request);
        if (http.Request.RouteValues.TryGetValue("subscriptionId", out var subscription) && subscription is string s)
        {
            ArmNames.RequireSubscription(s, identity.SubscriptionId);
        }

        return ArmScope.Of(http);
    }

    public static string DefinitionId(string subscriptionId, string roleId) =>
        $"/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{roleId}";

    private static RoleDefinitionResource ToResource(RoleDefinitionRecord role, string subscriptionId) => new()
    {
        Id = DefinitionId(subscriptionId, role.Id),
        Name = role.Id,
        Properties = new RoleDefinitionProperties
        {
            RoleName = role.RoleName,
            Description = role.Description,
            Type = BuiltInRoles.IsBuiltIn(role.Id) ? "BuiltInRole" : "CustomRole",
            Permissions = [new RolePermission { Actions = role.Actions, NotActions = role.NotActions, DataActions = [], NotDataActions = [] }],
            AssignableScopes = role.AssignableScopes,
        },
    };

    private static RoleAssignmentResource ToResource(RoleAssignmentRecord a, string subscriptionId, string? principalType) => new()
    {
        Id = (a.Scope == "/" ? "" : a.Scope) + Assignments + "/" + a.Id,
        Name = a.Id,
        Properties = new RoleAssignmentProperties
        {
            RoleDefinitionId = DefinitionId(subscriptionId, a.RoleDefinitionId),
            PrincipalId = a.PrincipalId,
            PrincipalType = principalType,
            Scope = a.Scope,
            CreatedOn = a.Created,
            CreatedBy = a.CreatedBy,
        },
    };
}
