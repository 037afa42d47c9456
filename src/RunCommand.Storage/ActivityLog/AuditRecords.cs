namespace RunCommand.Storage;

/// <summary>One entry of the append-only activity log. Never holds a request body, query string or token.</summary>
public sealed record AuditRecord
{
    /// <summary>GUID (eventDataId).</summary>
    public required string Id { get; init; }

    public required DateTimeOffset Time { get; init; }

    /// <summary>Principal object id; null when the caller could not be authenticated.</summary>
    public string? CallerId { get; init; }

    /// <summary>Principal name, "agent:{vm resource id}", or null when unauthenticated.</summary>
    public string? Caller { get; init; }

    /// <summary>The RBAC action, e.g. Microsoft.Compute/virtualMachines/runCommands/write.</summary>
    public required string Action { get; init; }

    /// <summary>The request path (the resource or scope acted on), without the query.</summary>
    public required string ResourceId { get; init; }

    /// <summary>Resource group of <see cref="ResourceId"/>, lower-cased for filtering; null above resource groups.</summary>
    public string? ResourceGroup { get; init; }

    public required string HttpMethod { get; init; }

    /// <summary>HTTP status answered.</summary>
    public required int StatusCode { get; init; }

    public string? ClientAddress { get; init; }

    /// <summary>x-ms-request-id of the request.</summary>
    public string? CorrelationId { get; init; }
}

/// <summary>Filter of <see cref="IActivityLogStore.ListAuditAsync"/>; null members do not filter.</summary>
public sealed record AuditQuery
{
    public DateTimeOffset? From { get; init; }

    public DateTimeOffset? To { get; init; }

    public string? ResourceGroup { get; init; }

    /// <summary>Matches the caller name or object id, case-insensitively.</summary>
    public string? Caller { get; init; }

    /// <summary>Newest first, at most this many.</summary>
    public int Max { get; init; } = 1000;
}
