using Microsoft.Data.Sqlite;

namespace RunCommand.Storage.Sqlite;

/// <summary>Principals, API tokens, custom roles, role assignments and the append-only activity log.</summary>
public sealed partial class SqliteRunCommandStore
{
    private const string AuthSchema = """
        CREATE TABLE IF NOT EXISTS principals(
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            sort_name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            display_name TEXT,
            created TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS api_tokens(
            id TEXT PRIMARY KEY,
            principal_id TEXT NOT NULL,
            hash BLOB NOT NULL UNIQUE,
            description TEXT,
            created TEXT NOT NULL,
            expires TEXT,
            revoked TEXT);
        CREATE TABLE IF NOT EXISTS enrollment_tokens(
            id TEXT PRIMARY KEY,
            hash BLOB NOT NULL UNIQUE,
            subscription TEXT NOT NULL,
            resource_group TEXT NOT NULL,
            scale_set TEXT,
            created TEXT NOT NULL,
            expires TEXT,
            max_uses INTEGER,
            uses INTEGER NOT NULL DEFAULT 0,
            revoked TEXT,
            created_by TEXT);
        CREATE TABLE IF NOT EXISTS role_definitions(
            id TEXT PRIMARY KEY,
            role_name TEXT NOT NULL,
            sort_name TEXT NOT NULL UNIQUE,
            description TEXT,
            actions TEXT NOT NULL,
            not_actions TEXT NOT NULL,
            assignable_scopes TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS role_assignments(
            id TEXT PRIMARY KEY,
            principal_id TEXT NOT NULL,
            role_definition_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            created TEXT NOT NULL,
            created_by TEXT);
        CREATE INDEX IF NOT EXISTS ix_role_assignments_principal ON role_assignments(principal_id);
        CREATE TABLE IF NOT EXISTS audit(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL,
            time TEXT NOT NULL,
            caller_id TEXT,
            caller TEXT,
            action TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            resource_group TEXT,
            method TEXT NOT NULL,
            status INTEGER NOT NULL,
            client_address TEXT,
            correlation_id TEXT);
        CREATE INDEX IF NOT EXISTS ix_audit_time ON audit(time);
        -- Append-only: the activity log cannot be edited or pruned through SQL either.
        CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;
        """;

    private const char ListSeparator = '\n';

    private const string EnrollmentTokenSelect =
        "SELECT id, subscription, resource_group, created, expires, max_uses, uses, revoked, created_by, scale_set FROM enrollment_tokens ";

    public async Task IssueEnrollmentTokenAsync(EnrollmentTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO enrollment_tokens(id, hash, subscription, resource_group, scale_set, created, expires, max_uses, uses, revoked, created_by)
                VALUES($id, $h, $s, $rg, $set, $c, $e, $max, 0, NULL, $by)
                """, cancellationToken, ("$id", token.Id), ("$h", tokenHash), ("$s", token.SubscriptionId), ("$rg", token.ResourceGroup), ("$set", token.ScaleSetName),
                ("$c", StorageFormat.Timestamp(token.Created)), ("$e", token.Expires is { } e ? StorageFormat.Timestamp(e) : null),
                ("$max", token.MaxUses), ("$by", token.CreatedBy));
            return true;
        }, cancellationToken);

    public async Task<EnrollmentTokenRecord?> FindEnrollmentTokenAsync(byte[] tokenHash, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (await ReadEnrollmentTokensAsync(connection, null, "WHERE hash = $h", cancellationToken, ("$h", tokenHash))).FirstOrDefault();
    }

    public async Task<EnrollmentTokenUse> ConsumeEnrollmentTokenAsync(byte[] tokenHash, VmKey vm, DateTimeOffset now, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            // Checked and counted in one write transaction: two agents racing for the last use cannot both get it.
            var token = (await ReadEnrollmentTokensAsync(connection, transaction, "WHERE hash = $h", cancellationToken, ("$h", tokenHash))).FirstOrDefault();
            var verdict = token switch
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
            if (verdict == EnrollmentTokenUse.Accepted)
            {
                await ExecuteAsync(connection, transaction, "UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = $id", cancellationToken, ("$id", token!.Id));
            }

            return verdict;
        }, cancellationToken);

    public async Task<IReadOnlyList<EnrollmentTokenRecord>> ListEnrollmentTokensAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadEnrollmentTokensAsync(connection, null,
            "WHERE lower(subscription) = lower($s) AND ($rg IS NULL OR lower(resource_group) = lower($rg)) ORDER BY created", cancellationToken,
            ("$s", subscriptionId), ("$rg", resourceGroup));
    }

    public async Task<bool> RevokeEnrollmentTokenAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, "UPDATE enrollment_tokens SET revoked = coalesce(revoked, $now) WHERE id = $id",
                ("$id", tokenId), ("$now", StorageFormat.Timestamp(now)));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

    private static async Task<List<EnrollmentTokenRecord>> ReadEnrollmentTokensAsync(SqliteConnection connection, SqliteTransaction? transaction, string where, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, EnrollmentTokenSelect + where, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var tokens = new List<EnrollmentTokenRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            tokens.Add(new EnrollmentTokenRecord
            {
                Id = reader.GetString(0),
                SubscriptionId = reader.GetString(1),
                ResourceGroup = reader.GetString(2),
                Created = StorageFormat.ParseTimestamp(reader.GetString(3)),
                Expires = reader.IsDBNull(4) ? null : StorageFormat.ParseTimestamp(reader.GetString(4)),
                MaxUses = reader.IsDBNull(5) ? null : reader.GetInt32(5),
                Uses = reader.GetInt32(6),
                Revoked = reader.IsDBNull(7) ? null : StorageFormat.ParseTimestamp(reader.GetString(7)),
                CreatedBy = reader.IsDBNull(8) ? null : reader.GetString(8),
                ScaleSetName = reader.IsDBNull(9) ? null : reader.GetString(9),
            });
        }

        return tokens;
    }

    public async Task<bool> RevokeAgentAsync(VmKey vm, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, "UPDATE vms SET agent_token_hash = NULL, agent_public_key = NULL WHERE key = $key", ("$key", vm.Key));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

    public async Task<bool> CreatePrincipalAsync(PrincipalRecord principal, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, """
                INSERT INTO principals(id, name, sort_name, kind, display_name, created) VALUES($id, $name, $sort, $kind, $dn, $created)
                ON CONFLICT DO NOTHING
                """, ("$id", principal.Id), ("$name", principal.Name), ("$sort", principal.Name.ToLowerInvariant()), ("$kind", principal.Kind),
                ("$dn", principal.DisplayName), ("$created", StorageFormat.Timestamp(principal.Created)));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

    public async Task<PrincipalRecord?> FindPrincipalAsync(string idOrName, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var found = await ReadPrincipalsAsync(connection, "WHERE id = $key OR sort_name = $sort", cancellationToken, ("$key", idOrName), ("$sort", idOrName.ToLowerInvariant()));
        return found.FirstOrDefault();
    }

    public async Task<IReadOnlyList<PrincipalRecord>> ListPrincipalsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadPrincipalsAsync(connection, "ORDER BY sort_name", cancellationToken);
    }

    public async Task<bool> DeletePrincipalAsync(string principalId, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM api_tokens WHERE principal_id = $id", cancellationToken, ("$id", principalId));
            await ExecuteAsync(connection, transaction, "DELETE FROM role_assignments WHERE principal_id = $id", cancellationToken, ("$id", principalId));
            await using var command = Command(connection, transaction, "DELETE FROM principals WHERE id = $id", ("$id", principalId));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

    public async Task IssueApiTokenAsync(ApiTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO api_tokens(id, principal_id, hash, description, created, expires, revoked) VALUES($id, $p, $h, $d, $c, $e, NULL)
                """, cancellationToken, ("$id", token.Id), ("$p", token.PrincipalId), ("$h", tokenHash), ("$d", token.Description),
                ("$c", StorageFormat.Timestamp(token.Created)), ("$e", token.Expires is { } e ? StorageFormat.Timestamp(e) : null));
            return true;
        }, cancellationToken);

    public async Task<(ApiTokenRecord Token, PrincipalRecord Principal)?> FindApiTokenAsync(byte[] tokenHash, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // The lookup is by the hash's index: the token value itself is never compared, so its timing reveals nothing.
        var tokens = await ReadTokensAsync(connection, "WHERE hash = $h", cancellationToken, ("$h", tokenHash));
        if (tokens.Count == 0)
        {
            return null;
        }

        var principal = (await ReadPrincipalsAsync(connection, "WHERE id = $id", cancellationToken, ("$id", tokens[0].PrincipalId))).FirstOrDefault();
        return principal is null ? null : (tokens[0], principal);
    }

    public async Task<IReadOnlyList<ApiTokenRecord>> ListApiTokensAsync(string? principalId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadTokensAsync(connection, "WHERE $p IS NULL OR principal_id = $p ORDER BY created", cancellationToken, ("$p", principalId));
    }

    public async Task<bool> RevokeApiTokenAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, "UPDATE api_tokens SET revoked = coalesce(revoked, $now) WHERE id = $id",
                ("$id", tokenId), ("$now", StorageFormat.Timestamp(now)));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

    public async Task<bool> PutRoleDefinitionAsync(RoleDefinitionRecord role, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            var existed = await ScalarAsync(connection, transaction, "SELECT 1 FROM role_definitions WHERE id = $id", cancellationToken, ("$id", role.Id)) is not null;
            await ExecuteAsync(connection, transaction, """
                INSERT INTO role_definitions(id, role_name, sort_name, description, actions, not_actions, assignable_scopes)
                VALUES($id, $name, $sort, $d, $a, $na, $s)
                ON CONFLICT(id) DO UPDATE SET role_name = excluded.role_name, sort_name = excluded.sort_name, description = excluded.description,
                    actions = excluded.actions, not_actions = excluded.not_actions, assignable_scopes = excluded.assignable_scopes
                """, cancellationToken, ("$id", role.Id), ("$name", role.RoleName), ("$sort", role.RoleName.ToLowerInvariant()), ("$d", role.Description),
                ("$a", string.Join(ListSeparator, role.Actions)), ("$na", string.Join(ListSeparator, role.NotActions)),
                ("$s", string.Join(ListSeparator, role.AssignableScopes)));
            return !existed;
        }, cancellationToken);

    public async Task<IReadOnlyList<RoleDefinitionRecord>> ListRoleDefinitionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT id, role_name, description, actions, not_actions, assignable_scopes FROM role_definitions ORDER BY sort_name");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var roles = new List<RoleDefinitionRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            roles.Add(new RoleDefinitionRecord
            {
                Id = reader.GetString(0),
                RoleName = reader.GetString(1),
                Description = reader.IsDBNull(2) ? null : reader.GetString(2),
                Actions = SplitList(reader.GetString(3)),
                NotActions = SplitList(reader.GetString(4)),
                AssignableScopes = SplitList(reader.GetString(5)),
            });
        }

        return roles;
    }

    public async Task<bool> DeleteRoleDefinitionAsync(string roleDefinitionId, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, "DELETE FROM role_definitions WHERE id = $id", ("$id", roleDefinitionId));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

    public async Task<bool> CreateRoleAssignmentAsync(RoleAssignmentRecord assignment, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, """
                INSERT INTO role_assignments(id, principal_id, role_definition_id, scope, created, created_by) VALUES($id, $p, $r, $s, $c, $by)
                ON CONFLICT DO NOTHING
                """, ("$id", assignment.Id), ("$p", assignment.PrincipalId), ("$r", assignment.RoleDefinitionId), ("$s", assignment.Scope),
                ("$c", StorageFormat.Timestamp(assignment.Created)), ("$by", assignment.CreatedBy));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

    public async Task<IReadOnlyList<RoleAssignmentRecord>> ListRoleAssignmentsAsync(string? principalId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT id, principal_id, role_definition_id, scope, created, created_by FROM role_assignments WHERE $p IS NULL OR principal_id = $p ORDER BY created, id",
            ("$p", principalId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var assignments = new List<RoleAssignmentRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            assignments.Add(new RoleAssignmentRecord
            {
                Id = reader.GetString(0),
                PrincipalId = reader.GetString(1),
                RoleDefinitionId = reader.GetString(2),
                Scope = reader.GetString(3),
                Created = StorageFormat.ParseTimestamp(reader.GetString(4)),
                CreatedBy = reader.IsDBNull(5) ? null : reader.GetString(5),
            });
        }

        return assignments;
    }

    public async Task<bool> DeleteRoleAssignmentAsync(string assignmentId, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, "DELETE FROM role_assignments WHERE id = $id", ("$id", assignmentId));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

    public async Task AppendAuditAsync(AuditRecord entry, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO audit(id, time, caller_id, caller, action, resource_id, resource_group, method, status, client_address, correlation_id)
                VALUES($id, $t, $cid, $c, $a, $r, $rg, $m, $s, $ip, $corr)
                """, cancellationToken, ("$id", entry.Id), ("$t", StorageFormat.Timestamp(entry.Time)), ("$cid", entry.CallerId), ("$c", entry.Caller),
                ("$a", entry.Action), ("$r", entry.ResourceId), ("$rg", entry.ResourceGroup?.ToLowerInvariant()), ("$m", entry.HttpMethod),
                ("$s", entry.StatusCode), ("$ip", entry.ClientAddress), ("$corr", entry.CorrelationId));
            return true;
        }, cancellationToken);

    public async Task<IReadOnlyList<AuditRecord>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT id, time, caller_id, caller, action, resource_id, resource_group, method, status, client_address, correlation_id FROM audit
            WHERE ($from IS NULL OR time >= $from) AND ($to IS NULL OR time <= $to) AND ($rg IS NULL OR resource_group = $rg)
              AND ($caller IS NULL OR lower(caller) = $caller OR caller_id = $caller)
            ORDER BY seq DESC LIMIT $max
            """, ("$from", query.From is { } f ? StorageFormat.Timestamp(f) : null), ("$to", query.To is { } t ? StorageFormat.Timestamp(t) : null),
            ("$rg", query.ResourceGroup?.ToLowerInvariant()), ("$caller", query.Caller?.ToLowerInvariant()), ("$max", query.Max));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<AuditRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AuditRecord
            {
                Id = reader.GetString(0),
                Time = StorageFormat.ParseTimestamp(reader.GetString(1)),
                CallerId = reader.IsDBNull(2) ? null : reader.GetString(2),
                Caller = reader.IsDBNull(3) ? null : reader.GetString(3),
                Action = reader.GetString(4),
                ResourceId = reader.GetString(5),
                ResourceGroup = reader.IsDBNull(6) ? null : reader.GetString(6),
                HttpMethod = reader.GetString(7),
                StatusCode = reader.GetInt32(8),
                ClientAddress = reader.IsDBNull(9) ? null : reader.GetString(9),
                CorrelationId = reader.IsDBNull(10) ? null : reader.GetString(10),
            });
        }

        return entries;
    }

    private static IReadOnlyList<string> SplitList(string stored) =>
        stored.Length == 0 ? [] : stored.Split(ListSeparator);

    private static async Task<List<PrincipalRecord>> ReadPrincipalsAsync(SqliteConnection connection, string where, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, null, "SELECT id, name, kind, display_name, created FROM principals " + where, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var principals = new List<PrincipalRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            principals.Add(new PrincipalRecord
            {
                Id = reader.GetString(0),
                Name = reader.GetString(1),
                Kind = reader.GetString(2),
                DisplayName = reader.IsDBNull(3) ? null : reader.GetString(3),
                Created = StorageFormat.ParseTimestamp(reader.GetString(4)),
            });
        }

        return principals;
    }

    private static async Task<List<ApiTokenRecord>> ReadTokensAsync(SqliteConnection connection, string where, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, null, "SELECT id, principal_id, description, created, expires, revoked FROM api_tokens " + where, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var tokens = new List<ApiTokenRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            tokens.Add(new ApiTokenRecord
            {
                Id = reader.GetString(0),
                PrincipalId = reader.GetString(1),
                Description = reader.IsDBNull(2) ? null : reader.GetString(2),
                Created = StorageFormat.ParseTimestamp(reader.GetString(3)),
                Expires = reader.IsDBNull(4) ? null : StorageFormat.ParseTimestamp(reader.GetString(4)),
                Revoked = reader.IsDBNull(5) ? null : StorageFormat.ParseTimestamp(reader.GetString(5)),
            });
        }

        return tokens;
    }
}
