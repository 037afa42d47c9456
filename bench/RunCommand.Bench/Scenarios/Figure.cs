namespace RunCommand.Bench.Scenarios;

/// <summary>One line of the suite's table: a measured figure, its baseline from the same run, and its target.</summary>
public sealed record Figure
{
    /// <summary>What was measured, with its scale ("fleet run to 1,000 simulated agents, all terminal").</summary>
    public required string Name { get; init; }

    /// <summary>The measured value, with units.</summary>
    public required string Measured { get; init; }

    /// <summary>The baseline measured in the same run, with what it is ("bash -c true p50 1.9 ms").</summary>
    public required string Baseline { get; init; }

    /// <summary>The target, as text.</summary>
    public required string Target { get; init; }

    /// <summary>True when the target is met; null when the figure has no pass/fail target.</summary>
    public bool? Met { get; init; }
}
