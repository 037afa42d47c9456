using System.Text.Json.Serialization;

namespace RunCommand.Contracts.Arm;

/// <summary>A managed run command as ARM returns it (GET, list, PUT and PATCH responses).</summary>
public sealed record RunCommandResource
{
    /// <summary>Full ARM resource id, e.g. <c>/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}/runCommands/{name}</c>.</summary>
    public string? Id { get; init; }

    /// <summary>Run command name as the user spelled it (case kept).</summary>
    public string? Name { get; init; }

    /// <summary><c>Microsoft.Compute/virtualMachines/runCommands</c> or the scale-set VM type.</summary>
    public string? Type { get; init; }

    /// <summary>Location name; required on PUT.</summary>
    public string? Location { get; init; }

    /// <summary>Free-form tags; null when none were given.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    public RunCommandProperties? Properties { get; init; }
}

/// <summary>What to run and how; secrets are accepted on input and never filled in on output.</summary>
public sealed record RunCommandProperties
{
    /// <summary>Exactly one of script, scriptUri or commandId.</summary>
    public RunCommandSource? Source { get; init; }

    /// <summary>Named parameters become environment variables; nameless ones positional arguments, in order.</summary>
    public IReadOnlyList<RunCommandParameter>? Parameters { get; init; }

    /// <summary>Like <see cref="Parameters"/> but stored encrypted and never returned by the API.</summary>
    public IReadOnlyList<RunCommandParameter>? ProtectedParameters { get; init; }

    /// <summary>When true the PUT operation completes as soon as the script has started; otherwise when it ends.</summary>
    public bool? AsyncExecution { get; init; }

    /// <summary>Linux user the script runs as; null runs as the agent's user.</summary>
    public string? RunAsUser { get; init; }

    /// <summary>Password of <see cref="RunAsUser"/>; write-only.</summary>
    public string? RunAsPassword { get; init; }

    /// <summary>Seconds before the script's process group is terminated; 0 or null means no limit.</summary>
    public int? TimeoutInSeconds { get; init; }

    /// <summary>Append blob (with SAS) receiving stdout as it arrives; null keeps output on the server only.</summary>
    public string? OutputBlobUri { get; init; }

    /// <summary>Append blob (with SAS) receiving stderr as it arrives.</summary>
    public string? ErrorBlobUri { get; init; }

    /// <summary>
    /// The identity that writes <see cref="OutputBlobUri"/> when the URL has no SAS; null: none. Self-hosted, it names a
    /// storage credential configured on the agent (<c>--storage-credentials</c>, docs/agent.md).
    /// </summary>
    public RunCommandManagedIdentity? OutputBlobManagedIdentity { get; init; }

    /// <summary>The identity that writes <see cref="ErrorBlobUri"/> when the URL has no SAS; null: none.</summary>
    public RunCommandManagedIdentity? ErrorBlobManagedIdentity { get; init; }

    /// <summary>When true a script that does not succeed makes <see cref="ProvisioningState"/> Failed.</summary>
    public bool? TreatFailureAsDeploymentFailure { get; init; }

    /// <summary>Read-only: Creating, Updating, Deleting, Succeeded, Failed or Canceled.</summary>
    public string? ProvisioningState { get; init; }

    /// <summary>Read-only; present only with <c>$expand=instanceView</c>.</summary>
    public RunCommandInstanceView? InstanceView { get; init; }
}

/// <summary>Where the script comes from; exactly one member is set.</summary>
public sealed record RunCommandSource
{
    /// <summary>Inline script text, run by /bin/bash unless it starts with a shebang line.</summary>
    public string? Script { get; init; }

    /// <summary>https/http URL (public or a blob with SAS) the agent downloads the script from.</summary>
    public string? ScriptUri { get; init; }

    /// <summary>Id of a command document, e.g. <c>RunShellScript</c>.</summary>
    public string? CommandId { get; init; }

    /// <summary>The identity that reads <see cref="ScriptUri"/> when the URL has no SAS; null: none (a public URL).</summary>
    public RunCommandManagedIdentity? ScriptUriManagedIdentity { get; init; }
}

/// <summary>
/// ARM's <c>RunCommandManagedIdentity</c>: at most one of the two ids; neither (<c>{}</c>) means the machine's
/// system-assigned identity. RunCommand looks the identity up in the agent's storage credentials; ids are not secrets.
/// </summary>
public sealed record RunCommandManagedIdentity
{
    /// <summary>Client id of a user-assigned identity; null when not given.</summary>
    public string? ClientId { get; init; }

    /// <summary>Object (principal) id of a user-assigned identity; null when not given.</summary>
    public string? ObjectId { get; init; }

    /// <summary>How messages name it: <c>clientId=...</c>, <c>objectId=...</c> or <c>the system-assigned identity</c>.</summary>
    public override string ToString() =>
        ClientId is not null ? $"clientId={ClientId}" : ObjectId is not null ? $"objectId={ObjectId}" : "the system-assigned identity";
}

/// <summary>One script parameter; an empty name makes it a positional argument.</summary>
public sealed record RunCommandParameter
{
    public string Name { get; init; } = "";

    /// <summary>Passed literally, never interpreted by a shell.</summary>
    public string Value { get; init; } = "";
}

/// <summary>The state of the latest execution of a run command.</summary>
public sealed record RunCommandInstanceView
{
    /// <summary>Unknown, Pending, Running, Failed, Succeeded, TimedOut or Canceled.</summary>
    public string? ExecutionState { get; init; }

    /// <summary>Human-readable reason for the state (why it failed, what it waits for).</summary>
    public string? ExecutionMessage { get; init; }

    /// <summary>Exit code of the script; null until it has ended (or when it was killed).</summary>
    public int? ExitCode { get; init; }

    /// <summary>Last 4 KiB of stdout, cut on a UTF-8 character boundary.</summary>
    public string? Output { get; init; }

    /// <summary>Last 4 KiB of stderr, cut on a UTF-8 character boundary.</summary>
    public string? Error { get; init; }

    public DateTimeOffset? StartTime { get; init; }

    public DateTimeOffset? EndTime { get; init; }

    public IReadOnlyList<InstanceViewStatus>? Statuses { get; init; }
}

/// <summary>ARM's generic status entry (also the result shape of the action-style run command).</summary>
public sealed record InstanceViewStatus
{
    public string? Code { get; init; }

    /// <summary>Info, Warning or Error.</summary>
    public string? Level { get; init; }

    public string? DisplayStatus { get; init; }

    public string? Message { get; init; }

    public DateTimeOffset? Time { get; init; }
}

/// <summary>One page of a list; <see cref="NextLink"/> is null on the last page.</summary>
public sealed record ResourceList<T>
{
    public IReadOnlyList<T> Value { get; init; } = [];

    /// <summary>Absolute URL of the next page, carrying api-version and $expand.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NextLink { get; init; }
}
