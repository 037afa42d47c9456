namespace RunCommand.Agent;

/// <summary>What the command line configured; validated by Program before the agent starts.</summary>
public sealed record AgentOptions
{
    /// <summary>
    /// The control-plane nodes (http or https base URLs, each ending with '/'), in the order the agent tries them; one
    /// URL may also be a load balancer in front of several nodes. At least one.
    /// </summary>
    public required IReadOnlyList<Uri> Servers { get; init; }

    /// <summary>The VM this machine is; null when it joins a scale set instead (exactly one of the two is set).</summary>
    public string? VmName { get; init; }

    /// <summary>The scale set this machine joins as a new instance (the server assigns its instance id).</summary>
    public string? VmScaleSetName { get; init; }

    /// <summary>What this machine is, for logs.</summary>
    public string MachineDisplayName => VmName is null ? $"a new instance of scale set {VmScaleSetName}" : $"VM {VmName}";

    public string ResourceGroup { get; init; } = "default";

    /// <summary>Null: the server's default subscription.</summary>
    public string? SubscriptionId { get; init; }

    /// <summary>Null: the server's default location.</summary>
    public string? Location { get; init; }

    /// <summary>Holds agent.key (or an older agent's agent.token), agent.identity and executions/; created 0700.</summary>
    public required string StateDirectory { get; init; }

    public required string EnrollTokenFile { get; init; }

    /// <summary>PEM or DER certificate to trust exclusively for https; null: the system trust store.</summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>SHA-256 of the server certificate to pin (instead of <see cref="CaCertificateFile"/>); null: not pinned.</summary>
    public byte[]? ServerFingerprint { get; init; }

    /// <summary>Largest script a <c>scriptUri</c> download may deliver, in bytes.</summary>
    public long MaxScriptBytes { get; init; } = 256 * 1024;

    /// <summary>Reported executions' directories are deleted this long after they ended.</summary>
    public TimeSpan ExecutionRetention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Most bytes reported executions' directories may take; the oldest go first beyond it.</summary>
    public long ExecutionBudgetBytes { get; init; } = 1024L * 1024 * 1024;

    /// <summary>Where to serve Prometheus <c>/metrics</c> (plain http); null: no metrics endpoint (the default).</summary>
    public System.Net.IPEndPoint? MetricsListen { get; init; }

    /// <summary>Storage account keys that run commands' managed identities stand for (<c>--storage-credentials</c>); none by default.</summary>
    public Blobs.StorageCredentials StorageCredentials { get; init; } = Blobs.StorageCredentials.None;

    /// <summary>Tags the machine gets when its enrollment creates it.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}
