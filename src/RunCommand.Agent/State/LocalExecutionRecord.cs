using System.Text.Json.Serialization;

namespace RunCommand.Agent.State;

/// <summary>
/// What the agent keeps on disk about one execution (<c>state.json</c>). Never holds a secret: protected
/// parameter values, the run-as password and script URIs stay in memory only.
/// </summary>
public sealed record LocalExecutionRecord
{
    public required string ExecutionId { get; init; }

    /// <summary>Name of the run command, for logs only.</summary>
    public required string RunCommandName { get; init; }

    /// <summary>Local state: one of <see cref="LocalState"/>'s constants.</summary>
    public required string State { get; init; }

    /// <summary>When the agent accepted the execution (before anything ran).</summary>
    public required DateTimeOffset AcceptedAt { get; init; }

    /// <summary>0 means no limit.</summary>
    public int TimeoutInSeconds { get; init; }

    /// <summary>Wall-clock deadline computed when the script started; null when there is no timeout.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Pid of the wrapper shell, which is also its session and process group id; null until spawned.</summary>
    public int? Pid { get; init; }

    /// <summary>
    /// Directory of the execution's own cgroup (made before the script starts, removed once empty), so a restarted
    /// agent still kills every process of it on timeout and cancel; null when only the process group tracks it.
    /// </summary>
    public string? Cgroup { get; init; }

    /// <summary>Field 22 of <c>/proc/&lt;pid&gt;/stat</c> (clock ticks since boot): tells a reused pid apart.</summary>
    public ulong? ProcessStartTicks { get; init; }

    public DateTimeOffset? StartTime { get; init; }

    public DateTimeOffset? EndTime { get; init; }

    /// <summary>The script's exit code once it ended on its own; null otherwise.</summary>
    public int? ExitCode { get; init; }

    /// <summary>Why the state is what it is (for terminal states).</summary>
    public string? Message { get; init; }

    /// <summary>
    /// Set (TimedOut or Canceled) before the agent signals the process group, so a restart in the middle of a
    /// termination still reports why the script died.
    /// </summary>
    public string? StopIntent { get; init; }

    /// <summary>
    /// True when the run command has an outputBlobUri. The URL itself (its SAS is a secret) is never stored: after a
    /// restart the agent waits for it in the goal state before flushing the blob.
    /// </summary>
    public bool OutputBlob { get; init; }

    /// <summary>True when the run command has an errorBlobUri (see <see cref="OutputBlob"/>).</summary>
    public bool ErrorBlob { get; init; }

    /// <summary>True once the server acknowledged the terminal state with all of the output.</summary>
    public bool Reported { get; init; }

    [JsonIgnore]
    public bool IsTerminal => LocalState.IsTerminal(State);
}

/// <summary>The local states of an execution; terminal ones use the wire names of <c>ExecutionReport.State</c>.</summary>
public static class LocalState
{
    /// <summary>Recorded on disk, script not (known to be) started yet.</summary>
    public const string Accepted = "Accepted";

    /// <summary>Wire name only (never stored): reports on an execution that has not started, e.g. a failed download attempt.</summary>
    public const string Pending = "Pending";

    public const string Running = "Running";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string TimedOut = "TimedOut";
    public const string Canceled = "Canceled";

    public static bool IsTerminal(string state) =>
        state is Succeeded or Failed or TimedOut or Canceled;
}
