namespace RunCommand.Storage;

/// <summary>Rows of custom command documents; the key is the lower-cased id.</summary>
public interface ICommandDocumentRows
{
    Task<CommandDocumentRecord?> GetCommandDocumentAsync(string commandId, CancellationToken cancellationToken);

    /// <summary>Every document ordered by lower-cased id.</summary>
    Task<IReadOnlyList<CommandDocumentRecord>> ListCommandDocumentsAsync(CancellationToken cancellationToken);

    Task SaveCommandDocumentAsync(CommandDocumentRecord document, CancellationToken cancellationToken);

    Task<bool> DeleteCommandDocumentAsync(string commandId, CancellationToken cancellationToken);
}

/// <summary>Rows of deployments and their operations.</summary>
public interface IDeploymentRows
{
    /// <summary>The deployment with its operations in index order, or null.</summary>
    Task<DeploymentRecord?> GetDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken);

    /// <summary>Deployments (with operations) of a group by lower-cased name, or every unfinished one oldest first.</summary>
    Task<IReadOnlyList<DeploymentRecord>> ListDeploymentsAsync(DeploymentQuery query, CancellationToken cancellationToken);

    /// <summary>Inserts or replaces the deployment row (not its operations).</summary>
    Task SaveDeploymentAsync(DeploymentRecord deployment, CancellationToken cancellationToken);

    /// <summary>Inserts or replaces one operation row.</summary>
    Task SaveDeploymentOperationAsync(DeploymentKey deployment, DeploymentOperationRecord operation, CancellationToken cancellationToken);

    /// <summary>Deletes the deployment and its operations; false when there was none.</summary>
    Task<bool> DeleteDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken);
}

/// <summary>Rows of fleet runs and their targets.</summary>
public interface IFleetRows
{
    /// <summary>The run with its targets in ordinal order, or null.</summary>
    Task<FleetRunRecord?> GetFleetRunAsync(FleetRunKey run, CancellationToken cancellationToken);

    /// <summary>Runs of a group by lower-cased name, or (<paramref name="resourceGroup"/> null) every Running run oldest first.</summary>
    Task<IReadOnlyList<FleetRunRecord>> ListFleetRunsAsync(string? subscriptionId, string? resourceGroup, CancellationToken cancellationToken);

    /// <summary>Inserts a run with all its targets.</summary>
    Task InsertFleetRunAsync(FleetRunRecord run, CancellationToken cancellationToken);

    /// <summary>One target of a run, or null (no such run or ordinal): starting a target must not read all of them.</summary>
    Task<FleetTargetRecord?> GetFleetTargetAsync(FleetRunKey run, int ordinal, CancellationToken cancellationToken);

    /// <summary>Replaces one target row.</summary>
    Task SaveFleetTargetAsync(FleetRunKey run, FleetTargetRecord target, CancellationToken cancellationToken);

    /// <summary>Writes the run's state, cancel flag and completion time; drops its secrets when <paramref name="dropSecrets"/>.</summary>
    Task SaveFleetRunStateAsync(FleetRunKey run, FleetRunState state, bool cancelRequested, DateTimeOffset? completed, bool dropSecrets, CancellationToken cancellationToken);
}

/// <summary>Rows of tokens, principals, roles, role assignments and enrollment tokens.</summary>
public interface IIdentityRows
{
    Task<byte[]?> GetTokenHashAsync(string purpose, CancellationToken cancellationToken);

    Task SaveTokenHashAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>Inserts a principal; false (nothing written) when its id or lower-cased name exists.</summary>
    Task<bool> InsertPrincipalAsync(PrincipalRecord principal, CancellationToken cancellationToken);

    /// <summary>The principal with this id or this lower-cased name.</summary>
    Task<PrincipalRecord?> FindPrincipalAsync(string id, string lowerName, CancellationToken cancellationToken);

    Task<IReadOnlyList<PrincipalRecord>> ListPrincipalsAsync(CancellationToken cancellationToken);

    /// <summary>Deletes the principal row only; false when none.</summary>
    Task<bool> DeletePrincipalAsync(string principalId, CancellationToken cancellationToken);

    Task InsertApiTokenAsync(ApiTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken);

    Task<ApiTokenRecord?> FindApiTokenByHashAsync(byte[] tokenHash, CancellationToken cancellationToken);

    Task<ApiTokenRecord?> GetApiTokenAsync(string tokenId, CancellationToken cancellationToken);

    /// <summary>Tokens of one principal (or all when null), oldest first.</summary>
    Task<IReadOnlyList<ApiTokenRecord>> ListApiTokensAsync(string? principalId, CancellationToken cancellationToken);

    Task SetApiTokenRevokedAsync(string tokenId, DateTimeOffset revoked, CancellationToken cancellationToken);

    Task DeleteApiTokensOfAsync(string principalId, CancellationToken cancellationToken);

    Task<bool> RoleDefinitionExistsAsync(string roleDefinitionId, CancellationToken cancellationToken);

    /// <summary>Inserts or replaces a role definition.</summary>
    Task SaveRoleDefinitionAsync(RoleDefinitionRecord role, CancellationToken cancellationToken);

    /// <summary>Custom roles ordered by lower-cased name.</summary>
    Task<IReadOnlyList<RoleDefinitionRecord>> ListRoleDefinitionsAsync(CancellationToken cancellationToken);

    Task<bool> DeleteRoleDefinitionAsync(string roleDefinitionId, CancellationToken cancellationToken);

    /// <summary>Inserts an assignment; false (nothing written) when its id exists.</summary>
    Task<bool> InsertRoleAssignmentAsync(RoleAssignmentRecord assignment, CancellationToken cancellationToken);

    /// <summary>Assignments of one principal (or all when null), oldest first.</summary>
    Task<IReadOnlyList<RoleAssignmentRecord>> ListRoleAssignmentsAsync(string? principalId, CancellationToken cancellationToken);

    Task<bool> DeleteRoleAssignmentAsync(string assignmentId, CancellationToken cancellationToken);

    Task DeleteRoleAssignmentsOfAsync(string principalId, CancellationToken cancellationToken);

    Task InsertEnrollmentTokenAsync(EnrollmentTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken);

    Task<EnrollmentTokenRecord?> FindEnrollmentTokenByHashAsync(byte[] tokenHash, CancellationToken cancellationToken);

    Task<EnrollmentTokenRecord?> GetEnrollmentTokenAsync(string tokenId, CancellationToken cancellationToken);

    /// <summary>Tokens of a subscription, of one group (case-insensitive) when set, oldest first.</summary>
    Task<IReadOnlyList<EnrollmentTokenRecord>> ListEnrollmentTokensAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken);

    Task SetEnrollmentTokenUsesAsync(string tokenId, int uses, CancellationToken cancellationToken);

    Task SetEnrollmentTokenRevokedAsync(string tokenId, DateTimeOffset revoked, CancellationToken cancellationToken);
}

/// <summary>Rows of the activity log; a backend refuses updates and deletes of them.</summary>
public interface IActivityLogRows
{
    Task InsertAuditAsync(AuditRecord entry, CancellationToken cancellationToken);

    /// <summary>Entries matching the query (caller matched lower-cased against the name, or exactly against the id), newest first.</summary>
    Task<IReadOnlyList<AuditRecord>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken);
}
