namespace RunCommand.Storage;

/// <summary>Someone or something that holds API tokens and receives role assignments.</summary>
public sealed record PrincipalRecord
{
    /// <summary>Object id (a GUID), used by role assignments; never reused.</summary>
    public required string Id { get; init; }

    /// <summary>Unique name (compared case-insensitively): a user principal name or an app name.</summary>
    public required string Name { get; init; }

    public required PrincipalKind Kind { get; init; }

    public string? DisplayName { get; init; }

    public required DateTimeOffset Created { get; init; }
}

/// <summary>An API token's metadata; the token itself is shown once and only its SHA-256 is stored.</summary>
public sealed record ApiTokenRecord
{
    public required string Id { get; init; }

    public required string PrincipalId { get; init; }

    public string? Description { get; init; }

    public required DateTimeOffset Created { get; init; }

    /// <summary>After this instant the token is refused; null: it never expires.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>When it was revoked; null while it is valid.</summary>
    public DateTimeOffset? Revoked { get; init; }
}

/// <summary>An enrollment token limited to one resource group, with expiry and a use count; only its SHA-256 is stored.</summary>
public sealed record EnrollmentTokenRecord
{
    public required string Id { get; init; }

    /// <summary>Subscription and resource group an agent may enroll into with it (compared case-insensitively).</summary>
    public required string SubscriptionId { get; init; }

    public required string ResourceGroup { get; init; }

    /// <summary>When set, only instances of this scale set (of the resource group) may enroll with it; null: any VM or scale set of the group.</summary>
    public string? ScaleSetName { get; init; }

    public required DateTimeOffset Created { get; init; }

    /// <summary>Null: never expires.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>How many enrollments it allows; null: unlimited.</summary>
    public int? MaxUses { get; init; }

    public int Uses { get; init; }

    public DateTimeOffset? Revoked { get; init; }

    public string? CreatedBy { get; init; }
}

/// <summary>Why <see cref="IIdentityStore.ConsumeEnrollmentTokenAsync"/> refused, or that it did not.</summary>
public enum EnrollmentTokenUse
{
    Accepted,
    Unknown,
    Expired,
    Revoked,
    UsedUp,
    WrongResourceGroup,

    /// <summary>The token is for instances of one scale set, and this enrollment is not one of them.</summary>
    WrongScaleSet,
}

/// <summary>A custom role definition (built-in roles live in code and are not stored).</summary>
public sealed record RoleDefinitionRecord
{
    /// <summary>GUID.</summary>
    public required string Id { get; init; }

    /// <summary>Unique role name, compared case-insensitively.</summary>
    public required string RoleName { get; init; }

    public string? Description { get; init; }

    /// <summary>Action patterns granted; '*' matches any run of characters, comparison is case-insensitive.</summary>
    public required IReadOnlyList<string> Actions { get; init; }

    /// <summary>Patterns taken away from <see cref="Actions"/>.</summary>
    public IReadOnlyList<string> NotActions { get; init; } = [];

    /// <summary>Scopes where the role may be assigned.</summary>
    public IReadOnlyList<string> AssignableScopes { get; init; } = [];
}

/// <summary>Grants a principal a role at a scope and everything below it.</summary>
public sealed record RoleAssignmentRecord
{
    /// <summary>GUID.</summary>
    public required string Id { get; init; }

    public required string PrincipalId { get; init; }

    /// <summary>GUID of the role definition (built-in or custom).</summary>
    public required string RoleDefinitionId { get; init; }

    /// <summary>"/", "/subscriptions/{s}", ".../resourceGroups/{rg}" or a resource id, as given.</summary>
    public required string Scope { get; init; }

    public required DateTimeOffset Created { get; init; }

    /// <summary>Principal id of whoever created it.</summary>
    public string? CreatedBy { get; init; }
}
