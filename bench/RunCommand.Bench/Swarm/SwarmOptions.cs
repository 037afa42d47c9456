namespace RunCommand.Bench.Swarm;

/// <summary>What the simulated machines are and how they "run" a command.</summary>
public sealed record SwarmOptions
{
    /// <summary>The server's base URL (http or https).</summary>
    public required Uri Server { get; init; }

    /// <summary>PEM certificate the agents trust for https (the server's self-signed one); null for http.</summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>Resource group every simulated VM enrolls into.</summary>
    public string ResourceGroup { get; init; } = "swarm";

    /// <summary>VM names are this prefix and a five-digit index.</summary>
    public string NamePrefix { get; init; } = "sim";

    /// <summary>Tags each VM gets at enrollment (fleet runs target them).</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>How long a simulated command "runs" before it is reported Succeeded; zero reports it at once.</summary>
    public TimeSpan CommandDuration { get; init; }

    /// <summary>Stdout every simulated command reports.</summary>
    public string Stdout { get; init; } = "hi\n";

    /// <summary>Enrollments in flight at once while the swarm starts (a real fleet does not enroll in one instant either).</summary>
    public int EnrollConcurrency { get; init; } = 64;
}
