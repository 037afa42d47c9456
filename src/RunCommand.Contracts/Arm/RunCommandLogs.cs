namespace RunCommand.Contracts.Arm;

/// <summary>
/// RunCommand extension (not in ARM): a slice of the full output of a run command's latest execution, from
/// <c>GET .../runCommands/{name}/logs?stdoutOffset=N&amp;stderrOffset=M&amp;waitSeconds=S</c>. The call waits up to S
/// seconds for new bytes unless the execution has ended; a client follows the output by sending back the
/// offsets it got until <see cref="Finished"/> is true and both chunks come back empty.
/// </summary>
public sealed record RunCommandLogs
{
    /// <summary>The execution this output belongs to; changes when a PUT re-runs the command.</summary>
    public required string ExecutionId { get; init; }

    public required string ExecutionState { get; init; }

    /// <summary>True when the execution has ended and the server holds all of its output.</summary>
    public required bool Finished { get; init; }

    /// <summary>stdout bytes from the requested offset (possibly empty).</summary>
    public required LogChunk Stdout { get; init; }

    public required LogChunk Stderr { get; init; }

    public int? ExitCode { get; init; }
}

/// <summary>Bytes of one stream starting at <see cref="Offset"/>; <see cref="NextOffset"/> is where to ask next.</summary>
public sealed record LogChunk
{
    public required long Offset { get; init; }

    /// <summary>Raw bytes (base64 on the wire); may end inside a UTF-8 character, the next chunk continues it.</summary>
    public required byte[] Data { get; init; }

    public required long NextOffset { get; init; }
}
