using System.Text.Json;
using System.Text.Json.Serialization;
using RunCommand.Contracts.Arm;

namespace RunCommand.Client;

/// <summary>One entry of <c>GET /subscriptions</c>; the first one the server lists is the default.</summary>
public sealed record Subscription
{
    /// <summary><c>/subscriptions/{guid}</c>.</summary>
    public string? Id { get; init; }

    /// <summary>The GUID used in resource paths.</summary>
    public required string SubscriptionId { get; init; }

    public string? DisplayName { get; init; }

    /// <summary>Enabled, Disabled, ...; informational.</summary>
    public string? State { get; init; }

    /// <summary>RunCommand extension: the location new resources get by default; null when the server does not say.</summary>
    public string? Location { get; init; }
}

/// <summary>Source-generated serialization of the wire types the client needs beyond the shared contracts.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ResourceList<Subscription>))]
public sealed partial class ClientJsonContext : JsonSerializerContext;
