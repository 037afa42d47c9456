namespace RunCommand.Storage;

/// <summary>What the retention pass keeps (docs/storage.md, "Retention").</summary>
/// <param name="MaxAge">Finished executions that ended longer ago than this lose their output, and their record too when nothing refers to it.</param>
/// <param name="MaxOutputBytes">Most bytes of output kept; beyond it the output of the finished executions that ended first goes.</param>
public sealed record RetentionPolicy(TimeSpan MaxAge, long MaxOutputBytes);

/// <summary>What one retention pass removed.</summary>
/// <param name="Executions">Execution records deleted.</param>
/// <param name="OutputBytes">Bytes of output deleted (with their executions or on their own).</param>
public sealed record PruneOutcome(int Executions, long OutputBytes)
{
    public static PruneOutcome None { get; } = new(0, 0);

    public PruneOutcome Plus(PruneOutcome other) => new(Executions + other.Executions, OutputBytes + other.OutputBytes);
}

/// <summary>An execution with an end time, as retention sees it (<see cref="IRunCommandRows.ListEndedExecutionsAsync"/>).</summary>
public sealed record EndedExecution
{
    public required ExecutionRecord Execution { get; init; }

    /// <summary>The machine whose agent ran it.</summary>
    public required VmKey Vm { get; init; }

    /// <summary>Bytes of output held for it (both streams).</summary>
    public required long OutputBytes { get; init; }

    /// <summary>A run command (as its current execution), a fleet target or a deployment operation names it: its record stays, only its output may go.</summary>
    public required bool Referenced { get; init; }
}
