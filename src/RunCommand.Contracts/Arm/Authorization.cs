namespace RunCommand.Contracts.Arm;

/// <summary>A user or service principal (RunCommand's stand-in for a directory object).</summary>
public sealed record PrincipalResource
{
    /// <summary>Object id, a GUID; what role assignments name.</summary>
    public required string Id { get; init; }

    /// <summary>Unique name (user principal name or app name), case-insensitive.</summary>
    public required string Name { get; init; }

    /// <summary>"User" or "ServicePrincipal".</summary>
    public required string PrincipalType { get; init; }

    public string? DisplayName { get; init; }

    public DateTimeOffset? CreatedDateTime { get; init; }
}

/// <summary>Body of <c>PUT /providers/Microsoft.Authorization/principals/{name}</c>.</summary>
public sealed record PrincipalCreate
{
    /// <summary>"User" (default) or "ServicePrincipal".</summary>
    public string? PrincipalType { get; init; }

    public string? DisplayName { get; init; }
}

/// <summary>An API token's metadata; <see cref="Token"/> is set only in the answer that creates it.</summary>
public sealed record ApiTokenResource
{
    public required string Id { get; init; }

    public required string PrincipalId { get; init; }

    public string? PrincipalName { get; init; }

    public string? Description { get; init; }

    public required DateTimeOffset CreatedOn { get; init; }

    /// <summary>Null: never expires.</summary>
    public DateTimeOffset? ExpiresOn { get; init; }

    /// <summary>Null: not revoked.</summary>
    public DateTimeOffset? RevokedOn { get; init; }

    /// <summary>The bearer token itself: shown once, on creation; the server keeps only its SHA-256.</summary>
    public string? Token { get; init; }
}

/// <summary>Body of <c>POST /providers/Microsoft.Authorization/principals/{name}/tokens</c>.</summary>
public sealed record ApiTokenCreate
{
    /// <summary>Lifetime in seconds; null or 0: the token never expires.</summary>
    public long? ExpiresInSeconds { get; init; }

    public string? Description { get; init; }
}

/// <summary>ARM's <c>Microsoft.Authorization/roleDefinitions</c> resource.</summary>
public sealed record RoleDefinitionResource
{
    /// <summary>Full id: <c>/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The GUID.</summary>
    public required string Name { get; init; }

    public string Type { get; init; } = "Microsoft.Authorization/roleDefinitions";

    public required RoleDefinitionProperties Properties { get; init; }
}

public sealed record RoleDefinitionProperties
{
    public string? RoleName { get; init; }

    public string? Description { get; init; }

    /// <summary>"BuiltInRole" or "CustomRole".</summary>
    public string? Type { get; init; }

    public IReadOnlyList<RolePermission>? Permissions { get; init; }

    public IReadOnlyList<string>? AssignableScopes { get; init; }
}

/// <summary>Allowed actions minus <see cref="NotActions"/>; '*' is a wildcard, case-insensitive.</summary>
public sealed record RolePermission
{
    public IReadOnlyList<string>? Actions { get; init; }

    public IReadOnlyList<string>? NotActions { get; init; }

    /// <summary>Data-plane actions; accepted for Azure compatibility, not used by RunCommand.</summary>
    public IReadOnlyList<string>? DataActions { get; init; }

    public IReadOnlyList<string>? NotDataActions { get; init; }
}

/// <summary>ARM's <c>Microsoft.Authorization/roleAssignments</c> resource.</summary>
public sealed record RoleAssignmentResource
{
    /// <summary>Full id: <c>{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}</c>.</summary>
    public required string Id { get; init; }

    public required string Name { get; init; }

    public string Type { get; init; } = "Microsoft.Authorization/roleAssignments";

    public required RoleAssignmentProperties Properties { get; init; }
}

public sealed record RoleAssignmentProperties
{
    /// <summary>Full role definition id (or its GUID when writing).</summary>
    public string? RoleDefinitionId { get; init; }

    /// <summary>Object id of the principal (or its name when writing: a RunCommand convenience).</summary>
    public string? PrincipalId { get; init; }

    public string? PrincipalType { get; init; }

    public string? Scope { get; init; }

    public DateTimeOffset? CreatedOn { get; init; }

    public string? CreatedBy { get; init; }
}

/// <summary>Body of <c>PUT .../roleAssignments/{guid}</c>.</summary>
public sealed record RoleAssignmentCreate
{
    public RoleAssignmentProperties? Properties { get; init; }
}

/// <summary>Body of <c>PUT .../roleDefinitions/{guid}</c>.</summary>
public sealed record RoleDefinitionCreate
{
    public RoleDefinitionProperties? Properties { get; init; }
}

/// <summary>One activity log entry in the shape of Azure Monitor's EventData.</summary>
public sealed record ActivityLogEvent
{
    public required string Id { get; init; }

    public required string EventDataId { get; init; }

    public string? CorrelationId { get; init; }

    /// <summary>Principal name, "agent:{vm id}", or null when the caller was not authenticated.</summary>
    public string? Caller { get; init; }

    public required ActivityLogAuthorization Authorization { get; init; }

    public required LocalizedValue OperationName { get; init; }

    /// <summary>"Succeeded" (2xx), "Failed", or "Denied" (401/403).</summary>
    public required LocalizedValue Status { get; init; }

    /// <summary>The HTTP status code, e.g. "Created", "Forbidden".</summary>
    public LocalizedValue? SubStatus { get; init; }

    public required DateTimeOffset EventTimestamp { get; init; }

    public string? ResourceGroupName { get; init; }

    public required string ResourceId { get; init; }

    public required string SubscriptionId { get; init; }

    public string Level { get; init; } = "Informational";

    public ActivityLogHttpRequest? HttpRequest { get; init; }

    public IReadOnlyDictionary<string, string>? Properties { get; init; }
}

public sealed record ActivityLogAuthorization
{
    public required string Action { get; init; }

    public required string Scope { get; init; }
}

public sealed record ActivityLogHttpRequest
{
    public string? ClientIpAddress { get; init; }

    public required string Method { get; init; }

    public string? ClientRequestId { get; init; }
}

public sealed record LocalizedValue
{
    public required string Value { get; init; }

    [System.Text.Json.Serialization.JsonPropertyName("localizedValue")]
    public string? LocalizedValueText { get; init; }
}

/// <summary>An enrollment token for agents of one resource group; <see cref="Token"/> only in the answer that creates it.</summary>
public sealed record EnrollmentTokenResource
{
    public required string Id { get; init; }

    public required string ResourceGroup { get; init; }

    /// <summary>When set, only instances of this scale set may enroll with the token.</summary>
    public string? VirtualMachineScaleSet { get; init; }

    public required DateTimeOffset CreatedOn { get; init; }

    /// <summary>Null: never expires.</summary>
    public DateTimeOffset? ExpiresOn { get; init; }

    /// <summary>Null: unlimited.</summary>
    public int? MaxUses { get; init; }

    public int Uses { get; init; }

    public DateTimeOffset? RevokedOn { get; init; }

    /// <summary>The token itself (give it to the agent as --enroll-token-file); shown once.</summary>
    public string? Token { get; init; }
}

/// <summary>Body of <c>POST .../resourceGroups/{rg}/providers/Microsoft.Compute/agentEnrollmentTokens</c>.</summary>
public sealed record EnrollmentTokenCreate
{
    /// <summary>Lifetime in seconds; null or 0: never expires.</summary>
    public long? ExpiresInSeconds { get; init; }

    /// <summary>How many agents may enroll with it; null: unlimited.</summary>
    public int? MaxUses { get; init; }

    /// <summary>Scale set whose instances alone may enroll with it; null: any VM or scale set of the resource group.</summary>
    public string? VirtualMachineScaleSet { get; init; }
}

/// <summary>
/// RunCommand extension (Azure's directory answers this as Graph's <c>/me</c>): who the caller's token belongs to and
/// where it holds which roles, from <c>GET /providers/Microsoft.Authorization/signedInPrincipal</c>.
/// </summary>
public sealed record SignedInPrincipal
{
    /// <summary>Object id of the principal.</summary>
    public required string Id { get; init; }

    /// <summary>Unique name; "admin" for the bootstrap admin token.</summary>
    public required string Name { get; init; }

    /// <summary>"User" or "ServicePrincipal".</summary>
    public required string PrincipalType { get; init; }

    public string? DisplayName { get; init; }

    /// <summary>Every role the principal holds and where (empty: it may do nothing yet).</summary>
    public required IReadOnlyList<SignedInRole> Roles { get; init; }
}

/// <summary>One role held at one scope.</summary>
public sealed record SignedInRole
{
    /// <summary>The role's name, e.g. "Reader".</summary>
    public required string RoleName { get; init; }

    /// <summary>The role definition's GUID.</summary>
    public required string RoleDefinitionId { get; init; }

    /// <summary>Where it applies (and below): "/", a subscription, a resource group or a resource id.</summary>
    public required string Scope { get; init; }
}
