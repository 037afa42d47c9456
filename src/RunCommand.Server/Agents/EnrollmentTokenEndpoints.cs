using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Agents;

/// <summary>
/// Enrollment tokens limited to one resource group, with expiry and a use count, revocable (a RunCommand extension:
/// <c>.../resourceGroups/{rg}/providers/Microsoft.Compute/agentEnrollmentTokens</c>). The server-wide
/// <c>enroll.token</c> keeps working for any resource group.
/// </summary>
public static class EnrollmentTokenEndpoints
{
    private const string Path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/agentEnrollmentTokens";

    public static void MapEnrollmentTokens(this IEndpointRouteBuilder app)
    {
        app.MapPost(Path, CreateAsync).RequireArmAction(Actions.EnrollmentTokensWrite);
        app.MapGet(Path, ListAsync).RequireArmAction(Actions.EnrollmentTokensRead);
        app.MapDelete(Path + "/{tokenId}", RevokeAsync).RequireArmAction(Actions.EnrollmentTokensDelete);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, string subscriptionId, string resourceGroupName, IIdentityStore store, ServerIdentity identity, TimeProvider time, CancellationToken cancellationToken)
    {
        Check(http.Request, subscriptionId, resourceGroupName, identity);
        var body = http.Request.ContentLength is 0 ? new EnrollmentTokenCreate() : await ArmBody.ReadAsync(http.Request, ContractsJsonContext.Default.EnrollmentTokenCreate, cancellationToken);
        var errors = new List<ArmError>();
        if (body.ExpiresInSeconds is < 0 or > 10L * 366 * 24 * 3600)
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "expiresInSeconds", "'expiresInSeconds' must be from 0 (never) to ten years."));
        }

        if (body.VirtualMachineScaleSet is { } set && ArmNames.CheckVmName(set).Any())
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "virtualMachineScaleSet", $"'{set}' is not a valid scale set name."));
        }

        if (body.MaxUses is < 1)
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "maxUses", "'maxUses' must be at least 1 (or absent: unlimited)."));
        }

        if (errors.Count > 0)
        {
            return ArmResults.Validation(errors);
        }

        var now = time.GetUtcNow();
        var token = TokenService.NewToken("rce_");
        var record = new EnrollmentTokenRecord
        {
            Id = Guid.NewGuid().ToString(),
            SubscriptionId = identity.SubscriptionId,
            ResourceGroup = resourceGroupName,
            ScaleSetName = body.VirtualMachineScaleSet,
            Created = now,
            Expires = body.ExpiresInSeconds is > 0 and var s ? now.AddSeconds(s) : null,
            MaxUses = body.MaxUses,
            CreatedBy = http.Caller().PrincipalId,
        };
        await store.IssueEnrollmentTokenAsync(record, TokenService.Hash(token), cancellationToken);
        return Results.Json(ToResource(record) with { Token = token }, ContractsJsonContext.Default.EnrollmentTokenResource, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, string subscriptionId, string resourceGroupName, IIdentityStore store, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, resourceGroupName, identity);
        var tokens = await store.ListEnrollmentTokensAsync(identity.SubscriptionId, resourceGroupName, cancellationToken);
        return Results.Json(new ResourceList<EnrollmentTokenResource> { Value = tokens.Select(ToResource).ToList() }, ContractsJsonContext.Default.ResourceListEnrollmentTokenResource);
    }

    private static async Task<IResult> RevokeAsync(HttpRequest request, string subscriptionId, string resourceGroupName, string tokenId, IIdentityStore store, ServerIdentity identity, TimeProvider time, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, resourceGroupName, identity);
        var tokens = await store.ListEnrollmentTokensAsync(identity.SubscriptionId, resourceGroupName, cancellationToken);
        return tokens.Any(t => t.Id == tokenId) && await store.RevokeEnrollmentTokenAsync(tokenId, time.GetUtcNow(), cancellationToken)
            ? Results.Ok()
            : ArmResults.NotFound($"The enrollment token '{tokenId}' was not found in resource group '{resourceGroupName}'.");
    }

    private static void Check(HttpRequest request, string subscriptionId, string resourceGroupName, ServerIdentity identity)
    {
        ArmNames.RequireApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        if (ArmNames.CheckResourceGroup(resourceGroupName).ToList() is { Count: > 0 } errors)
        {
            throw new ArmRequestException(errors);
        }
    }

    private static EnrollmentTokenResource ToResource(EnrollmentTokenRecord t) => new()
    {
        Id = t.Id,
        ResourceGroup = t.ResourceGroup,
        VirtualMachineScaleSet = t.ScaleSetName,
        CreatedOn = t.Created,
        ExpiresOn = t.Expires,
        MaxUses = t.MaxUses,
        Uses = t.Uses,
        RevokedOn = t.Revoked,
    };
}
