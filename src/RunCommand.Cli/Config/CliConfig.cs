using System.Text.Json;
using System.Text.Json.Serialization;

namespace RunCommand.Cli.Config;

/// <summary>What <c>runcmd login</c> remembers; every other verb starts from it.</summary>
internal sealed record CliConfig
{
    /// <summary>Base URL of the server, e.g. <c>http://127.0.0.1:5080</c>.</summary>
    public required string Server { get; init; }

    /// <summary>Bearer token; the reason the file is 0600.</summary>
    public required string Token { get; init; }

    /// <summary>Absolute path of the certificate (the server's own or its CA) to trust; null: system store only.</summary>
    public string? CaCert { get; init; }

    /// <summary>Subscription used when <c>--subscription</c> is not given; null: ask the server each time.</summary>
    public string? DefaultSubscription { get; init; }

    /// <summary>Location the server reported for the default subscription; null when it did not say.</summary>
    public string? DefaultLocation { get; init; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CliConfig))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
