using System.Net;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Client;

/// <summary>Principals, API tokens, role definitions and assignments, and the activity log.</summary>
public sealed partial class RunCommandClient
{
    /// <summary>api-version sent on Microsoft.Authorization calls.</summary>
    public const string AuthorizationApiVersion = "2022-04-01";

    /// <summary>api-version sent on the activity log, as Azure Monitor's clients do.</summary>
    public const string ActivityLogApiVersion = "2015-04-01";

    private const string IdentityPath = "/providers/Microsoft.Authorization";

    public async Task<PrincipalResource> CreatePrincipalAsync(string name, string principalType, string? displayName, CancellationToken cancellationToken = default)
    {
        var body = Body(new PrincipalCreate { PrincipalType = principalType, DisplayName = displayName }, ContractsJsonContext.Default.PrincipalCreate);
        var response = await SendAsync(HttpMethod.Put, $"{IdentityPath}/principals/{Escape(name)}?api-version={AuthorizationApiVersion}", body,
            ContractsJsonContext.Default.PrincipalResource, cancellationToken);
        return response.Body!;
    }

    public async Task<IReadOnlyList<PrincipalResource>> ListPrincipalsAsync(CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(HttpMethod.Get, $"{IdentityPath}/principals?api-version={AuthorizationApiVersion}", null,
            ContractsJsonContext.Default.ResourceListPrincipalResource, cancellationToken);
        return response.Body!.Value ?? [];
    }

    /// <summary>Deletes a principal (name or object id) with its tokens and role assignments; false when there was none.</summary>
    public async Task<bool> DeletePrincipalAsync(string name, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync<object>(HttpMethod.Delete, $"{IdentityPath}/principals/{Escape(name)}?api-version={AuthorizationApiVersion}", null, null, cancellationToken);
        return response.StatusCode != HttpStatusCode.NoContent;
    }

    /// <summary>Creates an API token for a principal; the answer holds the token itself, shown this once.</summary>
    public async Task<ApiTokenResource> CreateTokenAsync(string principal, TimeSpan? lifetime, string? description, CancellationToken cancellationToken = default)
    {
        var body = Body(new ApiTokenCreate { ExpiresInSeconds = lifetime is { } l ? (long)l.TotalSeconds : null, Description = description },
            ContractsJsonContext.Default.ApiTokenCreate);
        var response = await SendAsync(HttpMethod.Post, $"{IdentityPath}/principals/{Escape(principal)}/tokens?api-version={AuthorizationApiVersion}", body,
            ContractsJsonContext.Default.ApiTokenResource, cancellationToken);
        return response.Body!;
    }

    public async Task<IReadOnlyList<ApiTokenResource>> ListTokensAsync(string? principal, CancellationToken cancellationToken = default)
    {
        var url = $"{IdentityPath}/tokens?api-version={AuthorizationApiVersion}" + (principal is null ? "" : "&principal=" + Escape(principal));
        var response = await SendAsync(HttpMethod.Get, url, null, ContractsJsonContext.Default.ResourceListApiTokenResource, cancellationToken);
        return response.Body!.Value ?? [];
    }

    public async Task RevokeTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        await SendAsync<object>(HttpMethod.Delete, $"{IdentityPath}/tokens/{Escape(tokenId)}?api-version={AuthorizationApiVersion}", null, null, cancellationToken);

    public async Task<IReadOnlyList<RoleDefinitionResource>> ListRoleDefinitionsAsync(string subscription, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(HttpMethod.Get, $"{RoleDefinitionsPath(subscription)}?api-version={AuthorizationApiVersion}", null,
            ContractsJsonContext.Default.ResourceListRoleDefinitionResource, cancellationToken);
        return response.Body!.Value ?? [];
    }

    public async Task<RoleDefinitionResource> PutRoleDefinitionAsync(string subscription, string roleId, RoleDefinitionProperties properties, CancellationToken cancellationToken = default)
    {
        var body = Body(new RoleDefinitionCreate { Properties = properties }, ContractsJsonContext.Default.RoleDefinitionCreate);
        var response = await SendAsync(HttpMethod.Put, $"{RoleDefinitionsPath(subscription)}/{Escape(roleId)}?api-version={AuthorizationApiVersion}", body,
            ContractsJsonContext.Default.RoleDefinitionResource, cancellationToken);
        return response.Body!;
    }

    public async Task DeleteRoleDefinitionAsync(string subscription, string roleId, CancellationToken cancellationToken = default) =>
        await SendAsync<object>(HttpMethod.Delete, $"{RoleDefinitionsPath(subscription)}/{Escape(roleId)}?api-version={AuthorizationApiVersion}", null, null, cancellationToken);

    /// <summary>Assigns a role (GUID, full id or name) to a principal (object id or name) at a scope ("/" or an ARM id).</summary>
    public async Task<RoleAssignmentResource> CreateRoleAssignmentAsync(string scope, string principal, string role, CancellationToken cancellationToken = default)
    {
        var body = Body(new RoleAssignmentCreate { Properties = new RoleAssignmentProperties { PrincipalId = principal, RoleDefinitionId = role } },
            ContractsJsonContext.Default.RoleAssignmentCreate);
        var response = await SendAsync(HttpMethod.Put, $"{AssignmentsPath(scope)}/{Guid.NewGuid()}?api-version={AuthorizationApiVersion}", body,
            ContractsJsonContext.Default.RoleAssignmentResource, cancellationToken);
        return response.Body!;
    }

    /// <summary>Role assignments at, above and below a scope, optionally of one principal (object id).</summary>
    public async Task<IReadOnlyList<RoleAssignmentResource>> ListRoleAssignmentsAsync(string scope, string? principalId, CancellationToken cancellationToken = default)
    {
        var url = $"{AssignmentsPath(scope)}?api-version={AuthorizationApiVersion}" + (principalId is null ? "" : "&$filter=" + Escape($"principalId eq '{principalId}'"));
        var response = await SendAsync(HttpMethod.Get, url, null, ContractsJsonContext.Default.ResourceListRoleAssignmentResource, cancellationToken);
        return response.Body!.Value ?? [];
    }

    /// <summary>Deletes a role assignment by its full id (<c>{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}</c>).</summary>
    public async Task DeleteRoleAssignmentAsync(string assignmentId, CancellationToken cancellationToken = default) =>
        await SendAsync<object>(HttpMethod.Delete, $"{assignmentId}?api-version={AuthorizationApiVersion}", null, null, cancellationToken);

    /// <summary>Activity log entries, newest first; <paramref name="filter"/> is Azure Monitor's <c>$filter</c>.</summary>
    public async Task<IReadOnlyList<ActivityLogEvent>> ListActivityLogAsync(string subscription, string? filter, CancellationToken cancellationToken = default)
    {
        var url = $"/subscriptions/{Escape(subscription)}/providers/Microsoft.Insights/eventtypes/management/values?api-version={ActivityLogApiVersion}"
            + (filter is null ? "" : "&$filter=" + Escape(filter));
        var response = await SendAsync(HttpMethod.Get, url, null, ContractsJsonContext.Default.ResourceListActivityLogEvent, cancellationToken);
        return response.Body!.Value ?? [];
    }

    /// <summary>Cuts a VM's agent off: its credential is deleted, it must enroll again.</summary>
    public async Task RevokeAgentAsync(VmRef vm, CancellationToken cancellationToken = default) =>
        await SendAsync<object>(HttpMethod.Post,
            $"/subscriptions/{Escape(vm.Subscription)}/resourceGroups/{Escape(vm.ResourceGroup)}/providers/Microsoft.Compute/virtualMachines/{Escape(vm.VmName)}/revokeAgent?api-version={ApiVersion}",
            null, null, cancellationToken);

    /// <summary>
    /// Creates an enrollment token for agents of one resource group (or, with <paramref name="scaleSet"/>, of one scale set
    /// in it); the answer holds the token, shown this once.
    /// </summary>
    public async Task<EnrollmentTokenResource> CreateEnrollmentTokenAsync(string subscription, string resourceGroup, TimeSpan? lifetime, int? maxUses, CancellationToken cancellationToken = default, string? scaleSet = null)
    {
        var body = Body(new EnrollmentTokenCreate { ExpiresInSeconds = lifetime is { } l ? (long)l.TotalSeconds : null, MaxUses = maxUses, VirtualMachineScaleSet = scaleSet },
            ContractsJsonContext.Default.EnrollmentTokenCreate);
        var response = await SendAsync(HttpMethod.Post, $"{EnrollmentTokensPath(subscription, resourceGroup)}?api-version={ApiVersion}", body,
            ContractsJsonContext.Default.EnrollmentTokenResource, cancellationToken);
        return response.Body!;
    }

    public async Task<IReadOnlyList<EnrollmentTokenResource>> ListEnrollmentTokensAsync(string subscription, string resourceGroup, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(HttpMethod.Get, $"{EnrollmentTokensPath(subscription, resourceGroup)}?api-version={ApiVersion}", null,
            ContractsJsonContext.Default.ResourceListEnrollmentTokenResource, cancellationToken);
        return response.Body!.Value ?? [];
    }

    public async Task RevokeEnrollmentTokenAsync(string subscription, string resourceGroup, string tokenId, CancellationToken cancellationToken = default) =>
        await SendAsync<object>(HttpMethod.Delete, $"{EnrollmentTokensPath(subscription, resourceGroup)}/{Escape(tokenId)}?api-version={ApiVersion}", null, null, cancellationToken);

    private static string EnrollmentTokensPath(string subscription, string resourceGroup) =>
        $"/subscriptions/{Escape(subscription)}/resourceGroups/{Escape(resourceGroup)}/providers/Microsoft.Compute/agentEnrollmentTokens";

    private static string RoleDefinitionsPath(string subscription) => $"/subscriptions/{Escape(subscription)}/providers/Microsoft.Authorization/roleDefinitions";

    private static string AssignmentsPath(string scope) => scope.TrimEnd('/') + "/providers/Microsoft.Authorization/roleAssignments";
}
