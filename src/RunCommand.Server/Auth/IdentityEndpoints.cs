using System.Text.RegularExpressions;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// Users, service principals and their API tokens (a RunCommand extension under the tenant-level
/// <c>/providers/Microsoft.Authorization</c>; Azure keeps these in its directory). Scope "/".
/// </summary>
public static partial class IdentityEndpoints
{
    private const string Principals = "/providers/Microsoft.Authorization/principals";
    private const string Tokens = "/providers/Microsoft.Authorization/tokens";

    /// <summary>Longest token lifetime accepted (about ten years).</summary>
    private static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(3660);

    public static void MapIdentity(this IEndpointRouteBuilder app)
    {
        app.MapGet(Principals, ListPrincipalsAsync).RequireArmAction(Actions.PrincipalsRead);
        app.MapGet(Principals + "/{name}", GetPrincipalAsync).RequireArmAction(Actions.PrincipalsRead);
        app.MapPut(Principals + "/{name}", PutPrincipalAsync).RequireArmAction(Actions.PrincipalsWrite);
        app.MapDelete(Principals + "/{name}", DeletePrincipalAsync).RequireArmAction(Actions.PrincipalsDelete);
        app.MapPost(Principals + "/{name}/tokens", CreateTokenAsync).RequireArmAction(Actions.TokensWrite);
        app.MapGet(Tokens, ListTokensAsync).RequireArmAction(Actions.TokensRead);
        app.MapDelete(Tokens + "/{tokenId}", RevokeTokenAsync).RequireArmAction(Actions.TokensDelete);
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")]
    private static partial Regex PrincipalName();

    private static async Task<IResult> ListPrincipalsAsync(HttpRequest request, IIdentityStore store, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(request);
        var principals = await store.ListPrincipalsAsync(cancellationToken);
        var items = principals.Select(ToResource).Prepend(AdminResource).ToList();
        return Results.Json(new ResourceList<PrincipalResource> { Value = items }, ContractsJsonContext.Default.ResourceListPrincipalResource);
    }

    private static async Task<IResult> GetPrincipalAsync(HttpRequest request, string name, IIdentityStore store, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(request);
        var principal = await RequirePrincipalAsync(store, name, cancellationToken);
        return Results.Json(ToResource(principal), ContractsJsonContext.Default.PrincipalResource);
    }

    private static async Task<IResult> PutPrincipalAsync(HttpRequest request, string name, IIdentityStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(request);
        var body = await ArmBody.ReadAsync(request, ContractsJsonContext.Default.PrincipalCreate, cancellationToken);
        var errors = new List<ArmError>();
        if (!PrincipalName().IsMatch(name) || string.Equals(name, Caller.AdminName, StringComparison.OrdinalIgnoreCase) || Guid.TryParse(name, out _))
        {
            errors.Add(ArmNames.Invalid("InvalidPrincipalName", "name",
                $"The principal name '{name}' is invalid: use 1-128 letters, digits, '.', '_', '@' or '-', not a GUID and not '{Caller.AdminName}'."));
        }

        var kind = PrincipalKind.User;
        if (body.PrincipalType is { } given && !StateRules.TryParseName(given, out kind))
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "principalType", $"'principalType' must be '{PrincipalKind.User}' or '{PrincipalKind.ServicePrincipal}'."));
        }

        if (errors.Count > 0)
        {
            return ArmResults.Validation(errors);
        }

        var principal = new PrincipalRecord
        {
            Id = Guid.NewGuid().ToString(),
            Name = name,
            Kind = kind,
            DisplayName = body.DisplayName,
            Created = time.GetUtcNow(),
        };
        if (!await store.CreatePrincipalAsync(principal, cancellationToken))
        {
            return ArmResults.Conflict("PrincipalExists", $"A principal named '{name}' already exists.", "name");
        }

        return Results.Json(ToResource(principal), ContractsJsonContext.Default.PrincipalResource, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> DeletePrincipalAsync(HttpRequest request, string name, IIdentityStore store, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(request);
        var principal = await store.FindPrincipalAsync(name, cancellationToken);
        return principal is not null && await store.DeletePrincipalAsync(principal.Id, cancellationToken) ? Results.Ok() : Results.NoContent();
    }

    private static async Task<IResult> CreateTokenAsync(HttpRequest request, string name, IIdentityStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(request);
        var principal = await RequirePrincipalAsync(store, name, cancellationToken);
        var body = request.ContentLength is 0 ? new ApiTokenCreate() : await ArmBody.ReadAsync(request, ContractsJsonContext.Default.ApiTokenCreate, cancellationToken);
        if (body.ExpiresInSeconds is < 0 || (body.ExpiresInSeconds is { } seconds && TimeSpan.FromSeconds(seconds) > MaxLifetime))
        {
            return ArmResults.Error(StatusCodes.Status400BadRequest, "InvalidParameter", $"'expiresInSeconds' must be from 0 (never) to {(long)MaxLifetime.TotalSeconds}.", "expiresInSeconds");
        }

        var now = time.GetUtcNow();
        var token = TokenService.NewToken("rcu_");
        var record = new ApiTokenRecord
        {
            Id = Guid.NewGuid().ToString(),
            PrincipalId = principal.Id,
            Description = body.Description,
            Created = now,
            Expires = body.ExpiresInSeconds is > 0 and var s ? now.AddSeconds(s) : null,
        };
        await store.IssueApiTokenAsync(record, TokenService.Hash(token), cancellationToken);
        return Results.Json(ToResource(record, principal.Name) with { Token = token }, ContractsJsonContext.Default.ApiTokenResource, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListTokensAsync(HttpRequest request, IIdentityStore store, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(request);
        string? principalId = null;
        if (request.Query["principal"].FirstOrDefault() is { Length: > 0 } name)
        {
            principalId = (await RequirePrincipalAsync(store, name, cancellationToken)).Id;
        }

        var names = (await store.ListPrincipalsAsync(cancellationToken)).ToDictionary(p => p.Id, p => p.Name);
        var tokens = await store.ListApiTokensAsync(principalId, cancellationToken);
        var items = tokens.Select(t => ToResource(t, names.GetValueOrDefault(t.PrincipalId))).ToList();
        return Results.Json(new ResourceList<ApiTokenResource> { Value = items }, ContractsJsonContext.Default.ResourceListApiTokenResource);
    }

    private static async Task<IResult> RevokeTokenAsync(HttpRequest request, string tokenId, IIdentityStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        ArmNames.RequireApiVersion(request);
        return await store.RevokeApiTokenAsync(tokenId, time.GetUtcNow(), cancellationToken)
            ? Results.Ok()
            : ArmResults.NotFound($"The token '{tokenId}' was not found.");
    }

    private static async Task<PrincipalRecord> RequirePrincipalAsync(IIdentityStore store, string name, CancellationToken cancellationToken) =>
        await store.FindPrincipalAsync(name, cancellationToken)
            ?? throw new ArmRequestException(StatusCodes.Status404NotFound, "PrincipalNotFound", $"The principal '{name}' was not found.", "name");

    private static readonly PrincipalResource AdminResource = new()
    {
        Id = Caller.AdminPrincipalId,
        Name = Caller.AdminName,
        PrincipalType = nameof(PrincipalKind.ServicePrincipal),
        DisplayName = "Bootstrap admin (admin.token), Owner at /",
    };

    private static PrincipalResource ToResource(PrincipalRecord p) => new()
    {
        Id = p.Id,
        Name = p.Name,
        PrincipalType = p.Kind.ToString(),
        DisplayName = p.DisplayName,
        CreatedDateTime = p.Created,
    };

    private static ApiTokenResource ToResource(ApiTokenRecord t, string? principalName) => new()
    {
        Id = t.Id,
        PrincipalId = t.PrincipalId,
        PrincipalName = principalName,
        Description = t.Description,
        CreatedOn = t.Created,
        ExpiresOn = t.Expires,
        RevokedOn = t.Revoked,
    };
}
