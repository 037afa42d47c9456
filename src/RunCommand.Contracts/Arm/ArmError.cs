namespace RunCommand.Contracts.Arm;

/// <summary>The body of every ARM error response: <c>{"error":{...}}</c>.</summary>
public sealed record ArmErrorResponse
{
    public required ArmError Error { get; init; }
}

/// <summary>One ARM error; <see cref="Details"/> holds every validation error when there are several.</summary>
public sealed record ArmError
{
    /// <summary>Machine-readable code, e.g. InvalidParameter, ResourceNotFound, Conflict.</summary>
    public required string Code { get; init; }

    public required string Message { get; init; }

    /// <summary>JSON path of the offending field (e.g. <c>properties.source</c>); null when not about a field.</summary>
    public string? Target { get; init; }

    public IReadOnlyList<ArmError>? Details { get; init; }
}
