using System.Data.Common;

namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>tokens</c>, <c>principals</c>, <c>api_tokens</c>, <c>role_definitions</c>, <c>role_assignments</c> and <c>enrollment_tokens</c>.</summary>
public sealed partial class SqlRows
{
    private const char ListSeparator = '\n';

    private const string PrincipalSelect = "SELECT id, name, kind, display_name, created FROM principals ";

    private const string ApiTokenSelect = "SELECT id, principal_id, description, created, expires, revoked FROM api_tokens ";

    private const string EnrollmentTokenSelect =
        "SELECT id, subscription, resource_group, created, expires, max_uses, uses, revoked, created_by, scale_set FROM enrollment_tokens ";

    public async Task<byte[]?> GetTokenHashAsync(string purpose, CancellationToken cancellationToken) =>
        await ScalarAsync("SELECT hash FROM tokens WHERE purpose = @p", cancellationToken, ("@p", purpose)) as byte[];

    public async Task SaveTokenHashAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken) =>
        await ExecuteAsync("INSERT INTO tokens(purpose, hash) VALUES(@p, @h) ON CONFLICT(purpose) DO UPDATE SET hash = excluded.hash", cancellationToken,
            ("@p", purpose), ("@h", tokenHash));

    private static PrincipalRecord ReadPrincipal(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        Name = reader.GetString(1),
        Kind = Enum<PrincipalKind>(reader, 2),
        DisplayName = Text(reader, 3),
        Created = Time(reader, 4),
    };

    public async Task<bool> InsertPrincipalAsync(PrincipalRecord principal, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO principals(id, name, sort_name, kind, display_name, created) VALUES(@id, @name, @sort, @kind, @dn, @created)
            ON CONFLICT DO NOTHING
            """, cancellationToken, ("@id", principal.Id), ("@name", principal.Name), ("@sort", principal.Name.ToLowerInvariant()), ("@kind", principal.Kind.ToString()),
            ("@dn", principal.DisplayName), ("@created", Time(principal.Created))) == 1;

    public Task<PrincipalRecord?> FindPrincipalAsync(string id, string lowerName, CancellationToken cancellationToken) =>
        QuerySingleAsync(PrincipalSelect + "WHERE id = @id OR sort_name = @sort ORDER BY CASE WHEN id = @id THEN 0 ELSE 1 END", ReadPrincipal, cancellationToken,
            ("@id", id), ("@sort", lowerName));

    public async Task<IReadOnlyList<PrincipalRecord>> ListPrincipalsAsync(CancellationToken cancellationToken) =>
        await QueryAsync(PrincipalSelect + "ORDER BY sort_name", ReadPrincipal, cancellationToken);

    public async Task<bool> DeletePrincipalAsync(string principalId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM principals WHERE id = @id", cancellationToken, ("@id", principalId)) == 1;

    private static ApiTokenRecord ReadApiToken(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        PrincipalId = reader.GetString(1),
        Description = Text(reader, 2),
        Created = Time(reader, 3),
        Expires = TimeOrNull(reader, 4),
        Revoked = TimeOrNull(reader, 5),
    };

    public async Task InsertApiTokenAsync(ApiTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken) =>
        await ExecuteAsync("INSERT INTO api_tokens(id, principal_id, hash, description, created, expires, revoked) VALUES(@id, @p, @h, @d, @c, @e, @r)",
            cancellationToken, ("@id", token.Id), ("@p", token.PrincipalId), ("@h", tokenHash), ("@d", token.Description), ("@c", Time(token.Created)),
            ("@e", Time(token.Expires)), ("@r", Time(token.Revoked)));

    public Task<ApiTokenRecord?> FindApiTokenByHashAsync(byte[] tokenHash, CancellationToken cancellationToken) =>
        QuerySingleAsync(ApiTokenSelect + "WHERE hash = @h", ReadApiToken, cancellationToken, ("@h", tokenHash));

    public Task<ApiTokenRecord?> GetApiTokenAsync(string tokenId, CancellationToken cancellationToken) =>
        QuerySingleAsync(ApiTokenSelect + "WHERE id = @id", ReadApiToken, cancellationToken, ("@id", tokenId));

    public async Task<IReadOnlyList<ApiTokenRecord>> ListApiTokensAsync(string? principalId, CancellationToken cancellationToken) =>
        await QueryAsync(ApiTokenSelect + (principalId is null ? "" : "WHERE principal_id = @p ") + "ORDER BY created, id", ReadApiToken, cancellationToken, ("@p", principalId));

    public async Task SetApiTokenRevokedAsync(string tokenId, DateTimeOffset revoked, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE api_tokens SET revoked = @now WHERE id = @id", cancellationToken, ("@id", tokenId), ("@now", Time(revoked)));

    public async Task DeleteApiTokensOfAsync(string principalId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM api_tokens WHERE principal_id = @id", cancellationToken, ("@id", principalId));

    public async Task<bool> RoleDefinitionExistsAsync(string roleDefinitionId, CancellationToken cancellationToken) =>
        await ScalarAsync("SELECT 1 FROM role_definitions WHERE id = @id", cancellationToken, ("@id", roleDefinitionId)) is not null;

    public async Task SaveRoleDefinitionAsync(RoleDefinitionRecord role, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO role_definitions(id, role_name, sort_name, description, actions, not_actions, assignable_scopes)
            VALUES(@id, @name, @sort, @d, @a, @na, @s)
            ON CONFLICT(id) DO UPDATE SET role_name = excluded.role_name, sort_name = excluded.sort_name, description = excluded.description,
                actions = excluded.actions, not_actions = excluded.not_actions, assignable_scopes = excluded.assignable_scopes
            """, cancellationToken, ("@id", role.Id), ("@name", role.RoleName), ("@sort", role.RoleName.ToLowerInvariant()), ("@d", role.Description),
            ("@a", string.Join(ListSeparator, role.Actions)), ("@na", string.Join(ListSeparator, role.NotActions)),
            ("@s", string.Join(ListSeparator, role.AssignableScopes)));

    public async Task<IReadOnlyList<RoleDefinitionRecord>> ListRoleDefinitionsAsync(CancellationToken cancellationToken) =>
        await QueryAsync("SELECT id, role_name, description, actions, not_actions, assignable_scopes FROM role_definitions ORDER BY sort_name", reader => new RoleDefinitionRecord
        {
            Id = reader.GetString(0),
            RoleName = reader.GetString(1),
            Description = Text(reader, 2),
            Actions = SplitList(reader.GetString(3)),
            NotActions = SplitList(reader.GetString(4)),
            AssignableScopes = SplitList(reader.GetString(5)),
        }, cancellationToken);

    private static IReadOnlyList<string> SplitList(string stored) => stored.Length == 0 ? [] : stored.Split(ListSeparator);

    public async Task<bool> DeleteRoleDefinitionAsync(string roleDefinitionId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM role_definitions WHERE id = @id", cancellationToken, ("@id", roleDefinitionId)) == 1;

    public async Task<bool> InsertRoleAssignmentAsync(RoleAssignmentRecord assignment, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO role_assignments(id, principal_id, role_definition_id, scope, created, created_by) VALUES(@id, @p, @r, @s, @c, @by)
            ON CONFLICT DO NOTHING
            """, cancellationToken, ("@id", assignment.Id), ("@p", assignment.PrincipalId), ("@r", assignment.RoleDefinitionId), ("@s", assignment.Scope),
            ("@c", Time(assignment.Created)), ("@by", assignment.CreatedBy)) == 1;

    public async Task<IReadOnlyList<RoleAssignmentRecord>> ListRoleAssignmentsAsync(string? principalId, CancellationToken cancellationToken) =>
        await QueryAsync("SELECT id, principal_id, role_definition_id, scope, created, created_by FROM role_assignments "
            + (principalId is null ? "" : "WHERE principal_id = @p ") + "ORDER BY created, id", reader => new RoleAssignmentRecord
            {
                Id = reader.GetString(0),
                PrincipalId = reader.GetString(1),
                RoleDefinitionId = reader.GetString(2),
                Scope = reader.GetString(3),
                Created = Time(reader, 4),
                CreatedBy = Text(reader, 5),
            }, cancellationToken, ("@p", principalId));

    public async Task<bool> DeleteRoleAssignmentAsync(string assignmentId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM role_assignments WHERE id = @id", cancellationToken, ("@id", assignmentId)) == 1;

    public async Task DeleteRoleAssignmentsOfAsync(string principalId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM role_assignments WHERE principal_id = @id", cancellationToken, ("@id", principalId));

    private static EnrollmentTokenRecord ReadEnrollmentToken(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        SubscriptionId = reader.GetString(1),
        ResourceGroup = reader.GetString(2),
        Created = Time(reader, 3),
        Expires = TimeOrNull(reader, 4),
        MaxUses = Int32OrNull(reader, 5),
        Uses = Int32(reader, 6),
        Revoked = TimeOrNull(reader, 7),
        CreatedBy = Text(reader, 8),
        ScaleSetName = Text(reader, 9),
    };

    public async Task InsertEnrollmentTokenAsync(EnrollmentTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO enrollment_tokens(id, hash, subscription, resource_group, scale_set, created, expires, max_uses, uses, revoked, created_by)
            VALUES(@id, @h, @s, @rg, @set, @c, @e, @max, @uses, @r, @by)
            """, cancellationToken, ("@id", token.Id), ("@h", tokenHash), ("@s", token.SubscriptionId), ("@rg", token.ResourceGroup), ("@set", token.ScaleSetName),
            ("@c", Time(token.Created)), ("@e", Time(token.Expires)), ("@max", token.MaxUses), ("@uses", token.Uses), ("@r", Time(token.Revoked)), ("@by", token.CreatedBy));

    public Task<EnrollmentTokenRecord?> FindEnrollmentTokenByHashAsync(byte[] tokenHash, CancellationToken cancellationToken) =>
        QuerySingleAsync(EnrollmentTokenSelect + "WHERE hash = @h", ReadEnrollmentToken, cancellationToken, ("@h", tokenHash));

    public Task<EnrollmentTokenRecord?> GetEnrollmentTokenAsync(string tokenId, CancellationToken cancellationToken) =>
        QuerySingleAsync(EnrollmentTokenSelect + "WHERE id = @id", ReadEnrollmentToken, cancellationToken, ("@id", tokenId));

    public async Task<IReadOnlyList<EnrollmentTokenRecord>> ListEnrollmentTokensAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken) =>
        await QueryAsync(EnrollmentTokenSelect + "WHERE lower(subscription) = lower(@s)" + (resourceGroup is null ? "" : " AND lower(resource_group) = lower(@rg)")
            + " ORDER BY created, id", ReadEnrollmentToken, cancellationToken, ("@s", subscriptionId), ("@rg", resourceGroup));

    public async Task SetEnrollmentTokenUsesAsync(string tokenId, int uses, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE enrollment_tokens SET uses = @uses WHERE id = @id", cancellationToken, ("@id", tokenId), ("@uses", uses));

    public async Task SetEnrollmentTokenRevokedAsync(string tokenId, DateTimeOffset revoked, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE enrollment_tokens SET revoked = @now WHERE id = @id", cancellationToken, ("@id", tokenId), ("@now", Time(revoked)));
}
