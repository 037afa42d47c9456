namespace RunCommand.Storage;

/// <summary>Who may call: well-known tokens, principals with their API tokens, roles and assignments, and enrollment tokens.</summary>
public interface IIdentityStore
{
    /// <summary>Stores the SHA-256 of a well-known token ("admin", "enroll"), replacing the previous one.</summary>
    Task SetTokenHashAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The stored hash for a purpose, or null.</summary>
    Task<byte[]?> GetTokenHashAsync(string purpose, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the hash for a purpose only when none is stored; returns the hash that is stored afterwards. Several nodes
    /// starting at once agree on one bootstrap token this way.
    /// </summary>
    Task<byte[]> SetTokenHashIfAbsentAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>Creates a principal; false (and nothing done) when its name or id is taken.</summary>
    Task<bool> CreatePrincipalAsync(PrincipalRecord principal, CancellationToken cancellationToken);

    /// <summary>A principal by object id or name (case-insensitive), or null.</summary>
    Task<PrincipalRecord?> FindPrincipalAsync(string idOrName, CancellationToken cancellationToken);

    /// <summary>Every principal, ordered by name.</summary>
    Task<IReadOnlyList<PrincipalRecord>> ListPrincipalsAsync(CancellationToken cancellationToken);

    /// <summary>Removes a principal with its tokens and role assignments (its tokens are refused at once); false when none.</summary>
    Task<bool> DeletePrincipalAsync(string principalId, CancellationToken cancellationToken);

    /// <summary>Stores a new API token: its metadata and the SHA-256 of its value.</summary>
    Task IssueApiTokenAsync(ApiTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The token with this hash and its principal, whether or not expired or revoked; null when unknown.</summary>
    Task<(ApiTokenRecord Token, PrincipalRecord Principal)?> FindApiTokenAsync(byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>Tokens (metadata only) of one principal, or of all when null, oldest first.</summary>
    Task<IReadOnlyList<ApiTokenRecord>> ListApiTokensAsync(string? principalId, CancellationToken cancellationToken);

    /// <summary>Revokes a token from now on; false when it does not exist. Revoking twice keeps the first time.</summary>
    Task<bool> RevokeApiTokenAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Creates or replaces a custom role definition; true when it was new.</summary>
    Task<bool> PutRoleDefinitionAsync(RoleDefinitionRecord role, CancellationToken cancellationToken);

    /// <summary>Custom role definitions, ordered by name.</summary>
    Task<IReadOnlyList<RoleDefinitionRecord>> ListRoleDefinitionsAsync(CancellationToken cancellationToken);

    /// <summary>Removes a custom role definition; false when none.</summary>
    Task<bool> DeleteRoleDefinitionAsync(string roleDefinitionId, CancellationToken cancellationToken);

    /// <summary>Creates a role assignment; false (and nothing done) when its id exists.</summary>
    Task<bool> CreateRoleAssignmentAsync(RoleAssignmentRecord assignment, CancellationToken cancellationToken);

    /// <summary>Role assignments of one principal, or all when null, oldest first.</summary>
    Task<IReadOnlyList<RoleAssignmentRecord>> ListRoleAssignmentsAsync(string? principalId, CancellationToken cancellationToken);

    /// <summary>Removes a role assignment; false when none.</summary>
    Task<bool> DeleteRoleAssignmentAsync(string assignmentId, CancellationToken cancellationToken);

    Task IssueEnrollmentTokenAsync(EnrollmentTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The token with this hash (whatever its state), or null.</summary>
    Task<EnrollmentTokenRecord?> FindEnrollmentTokenAsync(byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// Atomically checks a token for an enrollment into <paramref name="vm"/>'s resource group and counts the use when
    /// it is accepted; a refused use is not counted.
    /// </summary>
    Task<EnrollmentTokenUse> ConsumeEnrollmentTokenAsync(byte[] tokenHash, VmKey vm, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Tokens of a resource group (or all of the subscription when null), oldest first.</summary>
    Task<IReadOnlyList<EnrollmentTokenRecord>> ListEnrollmentTokensAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken);

    /// <summary>Revokes a token; false when it does not exist. Revoking twice keeps the first time.</summary>
    Task<bool> RevokeEnrollmentTokenAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken);
}
