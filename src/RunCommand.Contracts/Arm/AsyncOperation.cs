namespace RunCommand.Contracts.Arm;

/// <summary>The body of an <c>Azure-AsyncOperation</c> URL.</summary>
public sealed record AsyncOperation
{
    /// <summary>The operation id (also the last segment of its URL).</summary>
    public required string Name { get; init; }

    /// <summary>InProgress, Succeeded, Failed or Canceled.</summary>
    public required string Status { get; init; }

    public DateTimeOffset? StartTime { get; init; }

    /// <summary>Null while InProgress.</summary>
    public DateTimeOffset? EndTime { get; init; }

    /// <summary>Set when Failed or Canceled.</summary>
    public ArmError? Error { get; init; }

    /// <summary>For the action-style run command: <c>{"output":{"value":[InstanceViewStatus...]}}</c> once done.</summary>
    public AsyncOperationProperties? Properties { get; init; }
}

public sealed record AsyncOperationProperties
{
    public RunCommandResult? Output { get; init; }

    /// <summary>RunCommand extension, action runs only: the execution's final state (Succeeded, Failed, TimedOut, Canceled).</summary>
    public string? ExecutionState { get; init; }

    /// <summary>RunCommand extension, action runs only: the script's exit code; null when it was killed or never ran.</summary>
    public int? ExitCode { get; init; }
}

/// <summary>Final result of the action-style run command.</summary>
public sealed record RunCommandResult
{
    public IReadOnlyList<InstanceViewStatus> Value { get; init; } = [];
}

/// <summary>Terminal values of <see cref="AsyncOperation.Status"/> and friends.</summary>
public static class OperationStatus
{
    public const string InProgress = "InProgress";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string Canceled = "Canceled";
}
