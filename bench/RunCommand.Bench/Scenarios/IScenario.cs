namespace RunCommand.Bench.Scenarios;

/// <summary>
/// One benchmark scenario: measures one or more figures of docs/performance.md, each beside a baseline measured in the
/// same run. A new scenario is one new file implementing this and one line in <see cref="Suite.All"/>.
/// </summary>
public interface IScenario
{
    /// <summary>Short name for <c>--only</c>.</summary>
    string Name { get; }

    /// <summary>True when the quick suite (CI) runs it too, usually at a smaller scale (<see cref="SuiteContext.Quick"/>).</summary>
    bool InQuick { get; }

    Task RunAsync(SuiteContext context);
}
