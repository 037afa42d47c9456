using RunCommand.Server.Arm;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// Endpoint metadata naming the RBAC action an ARM endpoint performs. Declare it with
/// <see cref="ArmAuthorizationExtensions.RequireArmAction{TBuilder}"/>; an ARM endpoint without it is open to the
/// bootstrap admin only (deny by default).
/// </summary>
/// <param name="Action">The action, e.g. <c>Microsoft.Compute/virtualMachines/runCommands/write</c>.</param>
/// <param name="Scope">
/// Computes the scope checked; null uses <see cref="ArmScope.Of"/>: the request path, cut before an extension
/// provider (<c>/providers/Microsoft.Authorization/...</c>, <c>/providers/Microsoft.Insights/...</c>).
/// </param>
/// <param name="CheckedByHandler">
/// True when the handler authorizes by itself with <see cref="Authorizer.IsAllowedAsync"/>: a list showing only the
/// items the caller may read, or an operation whose scope is the resource it belongs to. The middleware then lets
/// every authenticated caller in.
/// </param>
public sealed record ArmActionMetadata(string Action, Func<HttpContext, string>? Scope = null, bool CheckedByHandler = false);

/// <summary>Marks an endpoint any authenticated caller may use (the subscription list, the 404 fallback).</summary>
public sealed record AnyAuthenticatedCallerMetadata;

/// <summary>Marks an endpoint anyone may call without a token (health checks, the agent installer and downloads).</summary>
public sealed record AnonymousCallerMetadata;

public static class ArmAuthorizationExtensions
{
    /// <summary>Declares the action the endpoint performs; the request is refused with 403 AuthorizationFailed unless the caller holds it.</summary>
    public static TBuilder RequireArmAction<TBuilder>(this TBuilder builder, string action, Func<HttpContext, string>? scope = null, bool checkedByHandler = false)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ArmActionMetadata(action, scope, checkedByHandler));

    /// <summary>No token needed: the endpoint serves nothing a stranger could misuse.</summary>
    public static TBuilder AllowAnonymousCaller<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AnonymousCallerMetadata());

    /// <summary>Lets any authenticated caller use the endpoint.</summary>

    public static TBuilder AllowAnyAuthenticatedCaller<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AnyAuthenticatedCallerMetadata());
}

/// <summary>Scopes of ARM requests.</summary>
public static class ArmScope
{
    private static readonly string[] ExtensionProviders = ["/providers/Microsoft.Authorization/", "/providers/Microsoft.Insights/"];

    /// <summary>The scope a request acts on: its path, cut before an extension provider; "/" for tenant-level paths.</summary>
    public static string Of(HttpContext http) => OfPath(http.Request.Path.Value ?? "/");

    /// <summary>The scope of a request path: cut before an extension provider; "/" for tenant-level paths.</summary>
    public static string OfPath(string path)
    {
        foreach (var provider in ExtensionProviders)
        {
            var at = path.IndexOf(provider, StringComparison.OrdinalIgnoreCase);
            if (at >= 0)
            {
                path = path[..at];
            }
        }

        path = path.TrimEnd('/');
        return path.Length == 0 ? "/" : path;
    }

    /// <summary>The resource group named in a resource id or scope, or null.</summary>
    public static string? ResourceGroupOf(string resourceId)
    {
        var segments = resourceId.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i + 1 < segments.Length; i++)
        {
            if (segments[i].Equals("resourceGroups", StringComparison.OrdinalIgnoreCase))
            {
                return segments[i + 1];
            }
        }

        return null;
    }
}

/// <summary>Decides whether a caller holds an action at a scope, from its role assignments (inherited downwards).</summary>
public sealed class Authorizer
{
    private readonly IIdentityStore _store;

    public Authorizer(IIdentityStore store)
    {
        _store = store;
    }

    public async Task<bool> IsAllowedAsync(Caller caller, string action, string scope, CancellationToken cancellationToken) =>
        (await GrantsOfAsync(caller, cancellationToken)).IsAllowed(action, scope);

    /// <summary>Everything the caller may do, for a view that asks about many resources at once.</summary>
    public async Task<CallerGrants> GrantsOfAsync(Caller caller, CancellationToken cancellationToken)
    {
        if (caller.Kind == Caller.Admin || caller.PrincipalId is null)
        {
            return new CallerGrants(caller, [], new Dictionary<string, RoleDefinitionRecord>());
        }

        var assignments = await _store.ListRoleAssignmentsAsync(caller.PrincipalId, cancellationToken);
        return new CallerGrants(caller, assignments, assignments.Count == 0 ? new Dictionary<string, RoleDefinitionRecord>() : await RolesAsync(cancellationToken));
    }

    /// <summary>The bootstrap admin's Owner at "/", so lists and permission answers show where its access comes from.</summary>
    public static readonly RoleAssignmentRecord AdminAssignment = new()
    {
        Id = "00000000-0000-0000-0000-0000000000a1",
        PrincipalId = Caller.AdminPrincipalId,
        RoleDefinitionId = BuiltInRoles.Owner.Id,
        Scope = "/",
        Created = DateTimeOffset.UnixEpoch,
    };

    /// <summary>The role assignments the caller holds (the bootstrap admin: Owner at "/"; agents: none).</summary>
    public async Task<IReadOnlyList<RoleAssignmentRecord>> AssignmentsAsync(Caller caller, CancellationToken cancellationToken) =>
        caller.Kind == Caller.Admin ? [AdminAssignment]
        : caller.PrincipalId is null ? []
        : await _store.ListRoleAssignmentsAsync(caller.PrincipalId, cancellationToken);

    /// <summary>Built-in and custom role definitions by GUID.</summary>
    public async Task<Dictionary<string, RoleDefinitionRecord>> RolesAsync(CancellationToken cancellationToken)
    {
        var roles = new Dictionary<string, RoleDefinitionRecord>(StringComparer.OrdinalIgnoreCase);
        foreach (var role in BuiltInRoles.All.Concat(await _store.ListRoleDefinitionsAsync(cancellationToken)))
        {
            roles[role.Id] = role;
        }

        return roles;
    }

    /// <summary>403 with ARM's AuthorizationFailed body.</summary>
    public static ArmRequestException Denied(Caller caller, string action, string scope) =>
        new(StatusCodes.Status403Forbidden, "AuthorizationFailed",
            $"The client '{caller.Name}' with object id '{caller.PrincipalId}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. "
            + "If access was recently granted, please refresh your credentials.");
}

/// <summary>
/// Enforces the action declared on the endpoint (<see cref="ArmActionMetadata"/>) for ARM callers. The agent
/// protocol is authorized by its credential alone (an agent sees only its own VM) and is not checked here.
/// </summary>
public sealed class ArmAuthorization
{
    private readonly RequestDelegate _next;

    public ArmAuthorization(RequestDelegate next)
    {
        _next = next;
    }

    public async Task InvokeAsync(HttpContext http, Authorizer authorizer)
    {
        var caller = http.Items[typeof(Caller)] as Caller;
        if (caller is null || caller.Kind is Caller.Agent or Caller.Enrollment)
        {
            await _next(http);
            return;
        }

        var endpoint = http.GetEndpoint();
        var metadata = endpoint?.Metadata.GetMetadata<ArmActionMetadata>();
        if (metadata is null)
        {
            if (caller.Kind != Caller.Admin && endpoint?.Metadata.GetMetadata<AnyAuthenticatedCallerMetadata>() is null)
            {
                throw Authorizer.Denied(caller, $"{http.Request.Method} {http.Request.Path}", ArmScope.Of(http));
            }

            await _next(http);
            return;
        }

        if (!metadata.CheckedByHandler)
        {
            var scope = metadata.Scope?.Invoke(http) ?? ArmScope.Of(http);
            if (!await authorizer.IsAllowedAsync(caller, metadata.Action, scope, http.RequestAborted))
            {
                throw Authorizer.Denied(caller, metadata.Action, scope);
            }
        }

        await _next(http);
    }
}
