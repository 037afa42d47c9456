namespace RunCommand.Storage;

/// <summary>
/// Identity verbs over any backend. Rules: an enrollment token is checked and counted in one transaction; a
/// revocation keeps its first time; deleting a principal takes its tokens and role assignments with it.
/// </summary>
public sealed class IdentityStore(IStorageBackend backend) : IIdentityStore
{
    public Task SetTokenHashAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            await rows.SaveTokenHashAsync(purpose, tokenHash, cancellationToken);
            return true;
        }, cancellationToken);

    public Task<byte[]?> GetTokenHashAsync(string purpose, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetTokenHashAsync(purpose, cancellationToken), cancellationToken);

    public Task<byte[]> SetTokenHashIfAbsentAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            if (await rows.GetTokenHashAsync(purpose, cancellationToken) is { } stored)
            {
                return stored;
            }

            await rows.SaveTokenHashAsync(purpose, tokenHash, cancellationToken);
            return tokenHash;
        }, cancellationToken);

    public Task<bool> CreatePrincipalAsync(PrincipalRecord principal, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.InsertPrincipalAsync(principal, cancellationToken), cancellationToken);

    public Task<PrincipalRecord?> FindPrincipalAsync(string idOrName, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.FindPrincipalAsync(idOrName, idOrName.ToLowerInvariant(), cancellationToken), cancellationToken);

    public Task<IReadOnlyList<PrincipalRecord>> ListPrincipalsAsync(CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListPrincipalsAsync(cancellationToken), cancellationToken);

    public Task<bool> DeletePrincipalAsync(string principalId, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            await rows.DeleteApiTokensOfAsync(principalId, cancellationToken);
            await rows.DeleteRoleAssignmentsOfAsync(principalId, cancellationToken);
            return await rows.DeletePrincipalAsync(principalId, cancellationToken);
        }, cancellationToken);

    public Task IssueApiTokenAsync(ApiTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            await rows.InsertApiTokenAsync(token with { Revoked = null }, tokenHash, cancellationToken);
            return true;
        }, cancellationToken);

    public Task<(ApiTokenRecord Token, PrincipalRecord Principal)?> FindApiTokenAsync(byte[] tokenHash, CancellationToken cancellationToken) =>
        backend.ReadAsync<(ApiTokenRecord Token, PrincipalRecord Principal)?>(async rows =>
        {
            // The lookup is by the hash's index: the token value itself is never compared, so its timing reveals nothing.
            var token = await rows.FindApiTokenByHashAsync(tokenHash, cancellationToken);
            if (token is null)
            {
                return null;
            }

            var principal = await rows.FindPrincipalAsync(token.PrincipalId, token.PrincipalId.ToLowerInvariant(), cancellationToken);
            return principal is null || principal.Id != token.PrincipalId ? null : (token, principal);
        }, cancellationToken);

    public Task<IReadOnlyList<ApiTokenRecord>> ListApiTokensAsync(string? principalId, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListApiTokensAsync(principalId, cancellationToken), cancellationToken);

    public Task<bool> RevokeApiTokenAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var token = await rows.GetApiTokenAsync(tokenId, cancellationToken);
            if (token is { Revoked: null })
            {
                await rows.SetApiTokenRevokedAsync(tokenId, now, cancellationToken);
            }

            return token is not null;
        }, cancellationToken);

    public Task<bool> PutRoleDefinitionAsync(RoleDefinitionRecord role, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var existed = await rows.RoleDefinitionExistsAsync(role.Id, cancellationToken);
            await rows.SaveRoleDefinitionAsync(role, cancellationToken);
            return !existed;
        }, cancellationToken);

    public Task<IReadOnlyList<RoleDefinitionRecord>> ListRoleDefinitionsAsync(CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListRoleDefinitionsAsync(cancellationToken), cancellationToken);

    public Task<bool> DeleteRoleDefinitionAsync(string roleDefinitionId, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.DeleteRoleDefinitionAsync(roleDefinitionId, cancellationToken), cancellationToken);

    public Task<bool> CreateRoleAssignmentAsync(RoleAssignmentRecord assignment, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.InsertRoleAssignmentAsync(assignment, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<RoleAssignmentRecord>> ListRoleAssignmentsAsync(string? principalId, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListRoleAssignmentsAsync(principalId, cancellationToken), cancellationToken);

    public Task<bool> DeleteRoleAssignmentAsync(string assignmentId, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.DeleteRoleAssignmentAsync(assignmentId, cancellationToken), cancellationToken);

    public Task IssueEnrollmentTokenAsync(EnrollmentTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            await rows.InsertEnrollmentTokenAsync(token with { Uses = 0, Revoked = null }, tokenHash, cancellationToken);
            return true;
        }, cancellationToken);

    public Task<EnrollmentTokenRecord?> FindEnrollmentTokenAsync(byte[] tokenHash, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.FindEnrollmentTokenByHashAsync(tokenHash, cancellationToken), cancellationToken);

    public Task<EnrollmentTokenUse> ConsumeEnrollmentTokenAsync(byte[] tokenHash, VmKey vm, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            // Checked and counted in one write transaction: two agents racing for the last use cannot both get it.
            var token = await rows.FindEnrollmentTokenByHashAsync(tokenHash, cancellationToken);
            var verdict = Judge(token, vm, now);
            if (verdict == EnrollmentTokenUse.Accepted)
            {
                await rows.SetEnrollmentTokenUsesAsync(token!.Id, token.Uses + 1, cancellationToken);
            }

            return verdict;
        }, cancellationToken);

    /// <summary>Whether a token lets an agent enroll <paramref name="vm"/> now.</summary>
    public static EnrollmentTokenUse Judge(EnrollmentTokenRecord? token, VmKey vm, DateTimeOffset now) => token switch
    {
        null => EnrollmentTokenUse.Unknown,
        { Revoked: not null } => EnrollmentTokenUse.Revoked,
        { Expires: { } e } when e <= now => EnrollmentTokenUse.Expired,
        { MaxUses: { } max } when token.Uses >= max => EnrollmentTokenUse.UsedUp,
        _ when !string.Equals(token.SubscriptionId, vm.SubscriptionId, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(token.ResourceGroup, vm.ResourceGroup, StringComparison.OrdinalIgnoreCase) => EnrollmentTokenUse.WrongResourceGroup,
        { ScaleSetName: { } set } when !string.Equals(set, vm.ScaleSetName, StringComparison.OrdinalIgnoreCase) => EnrollmentTokenUse.WrongScaleSet,
        _ => EnrollmentTokenUse.Accepted,
    };

    public Task<IReadOnlyList<EnrollmentTokenRecord>> ListEnrollmentTokensAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListEnrollmentTokensAsync(subscriptionId, resourceGroup, cancellationToken), cancellationToken);

    public Task<bool> RevokeEnrollmentTokenAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var token = await rows.GetEnrollmentTokenAsync(tokenId, cancellationToken);
            if (token is { Revoked: null })
            {
                await rows.SetEnrollmentTokenRevokedAsync(tokenId, now, cancellationToken);
            }

            return token is not null;
        }, cancellationToken);
}
