namespace RunCommand.Contracts.Arm;

/// <summary>An entry of <c>GET /subscriptions</c>; RunCommand hosts exactly one.</summary>
public sealed record SubscriptionResource
{
    /// <summary><c>/subscriptions/{guid}</c>; RunCommand always sets it, other ARM-like servers may not.</summary>
    public string? Id { get; init; }

    public required string SubscriptionId { get; init; }

    public string? DisplayName { get; init; }

    /// <summary>Enabled, Disabled, ...; informational.</summary>
    public string? State { get; init; }

    /// <summary>RunCommand extension: the location name of every resource in it.</summary>
    public string? Location { get; init; }
}
