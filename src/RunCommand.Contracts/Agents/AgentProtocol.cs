namespace RunCommand.Contracts.Agents;

// The agent protocol (docs/agent-protocol.md): the agent enrolls once, then long-polls its goal state and
// reports each execution's progress. Every call after enrollment carries the agent's own credential: a short-lived
// assertion signed with the agent's key (or, for agents that enrolled without a key, its bearer token).

/// <summary>Headers of the agent protocol.</summary>
public static class AgentHeaders
{
    /// <summary>
    /// The agent's version, sent on its first goal-state poll after it starts with a saved credential (an upgraded agent
    /// keeps its enrollment), so that the machine's agent version shows the agent that runs now.
    /// </summary>
    public const string Version = "X-RunCommand-Agent-Version";

    /// <summary>Longest version string the server stores.</summary>
    public const int MaxVersionLength = 128;
}

/// <summary>Body of <c>POST /agent/v1/enroll</c>, authorized by an enrollment token.</summary>
public sealed record EnrollRequest
{
    /// <summary>Subscription GUID; null means the server's default subscription.</summary>
    public string? SubscriptionId { get; init; }

    /// <summary>Resource group the VM belongs to; created implicitly.</summary>
    public required string ResourceGroup { get; init; }

    /// <summary>VM name; the VM resource is created if it does not exist. Exactly one of this and <see cref="VmScaleSetName"/>.</summary>
    public string? VmName { get; init; }

    /// <summary>
    /// Scale set to join as a new instance (the server hands out the instance id and creates the scale set if needed).
    /// Exactly one of this and <see cref="VmName"/>.
    /// </summary>
    public string? VmScaleSetName { get; init; }

    /// <summary>Tags of the machine when enrollment creates it; an existing VM keeps its tags. Null: none.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Location name; null means the server's default location.</summary>
    public string? Location { get; init; }

    /// <summary>The machine's host name, for display.</summary>
    public string? Hostname { get; init; }

    /// <summary>The agent's version string, for display.</summary>
    public string? AgentVersion { get; init; }

    /// <summary>
    /// Base64 SubjectPublicKeyInfo (DER) of the agent's ECDSA P-256 key. When given, the agent authenticates with
    /// assertions signed by that key and the server issues no token; null: the server issues a bearer token.
    /// </summary>
    public string? PublicKey { get; init; }
}

/// <summary>Answer to an enrollment: the agent's own credential, to be kept 0600 in its state dir.</summary>
public sealed record EnrollResponse
{
    /// <summary>
    /// Bearer token for every later agent call, only when the enrollment carried no public key; shown only here,
    /// stored hashed by the server. Null when the agent enrolled with a key.
    /// </summary>
    public string? AgentToken { get; init; }

    /// <summary>ARM id of the VM (or scale-set instance) this agent serves.</summary>
    public required string VmResourceId { get; init; }

    /// <summary>For a scale-set instance: the instance id the server assigned; null for a VM.</summary>
    public string? InstanceId { get; init; }
}

/// <summary>
/// What the server wants the agent to be doing: every execution of this VM that the server does not yet
/// know as finished. Returned by <c>GET /agent/v1/goalstate?version=N&amp;waitSeconds=S</c>, which answers at
/// once when the server's version differs from N and otherwise waits up to S seconds for a change.
/// </summary>
public sealed record GoalState
{
    /// <summary>Opaque, increasing version of this VM's goal state; send it back on the next poll.</summary>
    public required long Version { get; init; }

    public IReadOnlyList<ExecutionAssignment> Executions { get; init; } = [];

    /// <summary>
    /// Executions whose run command was deleted: the agent deletes its local files of each (a running one once it has
    /// stopped) and then acknowledges it with <c>DELETE /agent/v1/executions/{executionId}</c>, which takes it off this
    /// list. Absent from older servers; an older agent ignores it.
    /// </summary>
    public IReadOnlyList<string>? Forget { get; init; }

    /// <summary>
    /// How many seconds the server holds an idle poll (its <c>AgentLongPoll</c>): the agent asks for that long on its next
    /// poll. Absent from older servers; the agent then asks for <c>AgentClient.DefaultLongPollWait</c> (30 s).
    /// </summary>
    public int? PollSeconds { get; init; }
}

/// <summary>One execution the server expects the agent to run (or to stop).</summary>
public sealed record ExecutionAssignment
{
    /// <summary>Unique id of this execution; each PUT that (re)runs a command makes a new one.</summary>
    public required string ExecutionId { get; init; }

    /// <summary>Name of the run command resource, for logs and display.</summary>
    public required string RunCommandName { get; init; }

    /// <summary>True when the execution must be stopped (delete, or a changed PUT): kill its group, report Canceled.</summary>
    public bool Cancel { get; init; }

    /// <summary>
    /// True when the server already holds a report that this execution started. An agent with no record of such an
    /// execution has lost its state (a power cut before the disk caught up) and must report it Failed, never run it.
    /// </summary>
    public bool Started { get; init; }

    /// <summary>Inline script text; null when <see cref="ScriptUri"/> is set.</summary>
    public string? Script { get; init; }

    /// <summary>URL to download the script from (may carry a SAS: a secret).</summary>
    public string? ScriptUri { get; init; }

    /// <summary>Public parameters, in order.</summary>
    public IReadOnlyList<AgentParameter> Parameters { get; init; } = [];

    /// <summary>Protected parameters, after the public ones; keep in memory only.</summary>
    public IReadOnlyList<AgentParameter> ProtectedParameters { get; init; } = [];

    /// <summary>0 means no limit.</summary>
    public int TimeoutInSeconds { get; init; }

    public string? RunAsUser { get; init; }

    /// <summary>Secret; keep in memory only.</summary>
    public string? RunAsPassword { get; init; }

    public string? OutputBlobUri { get; init; }

    public string? ErrorBlobUri { get; init; }

    /// <summary>Identity whose storage credential (configured on the agent) reads a <see cref="ScriptUri"/> without SAS; null: none.</summary>
    public Arm.RunCommandManagedIdentity? ScriptUriManagedIdentity { get; init; }

    /// <summary>Identity whose storage credential writes an <see cref="OutputBlobUri"/> without SAS; null: none.</summary>
    public Arm.RunCommandManagedIdentity? OutputBlobManagedIdentity { get; init; }

    /// <summary>Identity whose storage credential writes an <see cref="ErrorBlobUri"/> without SAS; null: none.</summary>
    public Arm.RunCommandManagedIdentity? ErrorBlobManagedIdentity { get; init; }

    /// <summary>Bytes of stdout the server already holds; the agent resumes uploading from here.</summary>
    public long StdoutLength { get; init; }

    /// <summary>Bytes of stderr the server already holds.</summary>
    public long StderrLength { get; init; }
}

public sealed record AgentParameter
{
    /// <summary>Environment variable name; empty for a positional argument.</summary>
    public string Name { get; init; } = "";

    public string Value { get; init; } = "";
}

/// <summary>
/// Body of <c>POST /agent/v1/executions/{executionId}/report</c>: the execution's state plus any new
/// output. Reports are idempotent: output chunks carry their byte offset and the server keeps each byte once.
/// </summary>
public sealed record ExecutionReport
{
    /// <summary>Pending, Running, Succeeded, Failed, TimedOut or Canceled.</summary>
    public required string State { get; init; }

    /// <summary>Script exit code once it has ended on its own; null otherwise.</summary>
    public int? ExitCode { get; init; }

    /// <summary>Why the state is what it is (e.g. "Timed out after 5 s", "Script download failed: HTTP 404").</summary>
    public string? Message { get; init; }

    public DateTimeOffset? StartTime { get; init; }

    public DateTimeOffset? EndTime { get; init; }

    /// <summary>New stdout bytes, or null when there are none.</summary>
    public OutputChunk? Stdout { get; init; }

    /// <summary>New stderr bytes, or null when there are none.</summary>
    public OutputChunk? Stderr { get; init; }
}

/// <summary>A run of output bytes starting at <see cref="Offset"/> of the stream (serialized as base64).</summary>
public sealed record OutputChunk
{
    public required long Offset { get; init; }

    public required byte[] Data { get; init; }
}

/// <summary>The server's answer to a report: where to continue each stream, and whether to stop.</summary>
public sealed record ReportAck
{
    /// <summary>Bytes of stdout the server holds; the next chunk starts here.</summary>
    public required long StdoutLength { get; init; }

    public required long StderrLength { get; init; }

    /// <summary>True when the execution must be stopped.</summary>
    public bool Cancel { get; init; }

    /// <summary>True when the server holds a terminal state for this execution (no more reports needed once output is complete).</summary>
    public bool Finished { get; init; }

    /// <summary>
    /// True when the server takes raw output uploads (<see cref="OutputUpload"/>); an agent then sends output that way
    /// instead of as base64 inside reports. Absent (false) from servers that predate them.
    /// </summary>
    public bool RawOutput { get; init; }
}

/// <summary>
/// The raw output upload (docs/agent-protocol.md): <c>PUT /agent/v1/executions/{executionId}/output/{stream}?offset=N</c>
/// with the bytes of <c>stdout</c> or <c>stderr</c> from offset N as an <c>application/octet-stream</c> body. The
/// server keeps the bytes past what it holds (a retry of a chunk it has is not doubled) and refuses a chunk that
/// starts past its end (409, a gap); both answers are a <see cref="ReportAck"/>.
/// </summary>
public static class OutputUpload
{
    /// <summary>Most bytes an agent sends in one upload (the server's request body limit).</summary>
    public const int MaxBytes = 8 * 1024 * 1024;

    /// <summary>The relative URL of an upload of <paramref name="stream"/> (<c>stdout</c> or <c>stderr</c>) from <paramref name="offset"/>.</summary>
    public static string Path(string executionId, string stream, long offset) =>
        $"agent/v1/executions/{Uri.EscapeDataString(executionId)}/output/{stream}?offset={offset.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}
