using System.Diagnostics;
using ConsoleTables;
using RunCommand.Bench.Measure;
using RunCommand.Bench.Scenarios;
using RunCommand.Testing;

namespace RunCommand.Bench;

/// <summary>Runs the scenarios in order and prints one table of every figure beside its baseline.</summary>
public static class Suite
{
    /// <summary>Every scenario, in the order of the issue's targets. Add a scenario here (one file each).</summary>
    public static IReadOnlyList<IScenario> All { get; } =
    [
        new HttpsLatencyScenario(),
        new TwoNodesScenario(),
        new FleetRealAgentsScenario(),
        new CliStartScenario(),
        new FleetSwarmScenario(),
        new TenThousandAgentsScenario(),
        new PutThroughputScenario(onPostgres: false),
        new PutThroughputScenario(onPostgres: true),
        new BigOutputScenario(),
        new AppendBlobScenario(),
    ];

    public static async Task<int> RunAsync(bool quick, IReadOnlyCollection<string> only, string? agent, int swarmAgents = TenThousandAgentsScenario.DefaultAgents, int? agentLongPollSeconds = null)
    {
        // The agent of the real-agent output scenarios: the NativeAOT build users install when it is built, else the dll.
        AgentBuild build;
        switch (agent)
        {
            case null:
                build = File.Exists(SuiteContext.NativeAgentPath) ? AgentBuild.Native : AgentBuild.Jit;
                break;
            case "jit":
                build = AgentBuild.Jit;
                break;
            case "native" when File.Exists(SuiteContext.NativeAgentPath):
                build = AgentBuild.Native;
                break;
            case "native":
                Console.Error.WriteLine($"error: no NativeAOT agent at {SuiteContext.NativeAgentPath}: build it with `packaging/build.sh agent-linux-x64`");
                return 2;
            default:
                Console.Error.WriteLine($"error: --agent must be 'native' or 'jit', not '{agent}'");
                return 2;
        }

        // The suite measures what the sources say: a shipped build in dist/ older than its sources (or missing beside a
        // built agent) is rebuilt first, which takes minutes; a build set from outside (RUNCMD_TEST_*) is used as given.
        if (build == AgentBuild.Native)
        {
            try
            {
                await Dist.NativeAgentAsync();
                if (Environment.GetEnvironmentVariable("RUNCMD_TEST_SERVER") is null
                    || string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RUNCMD_TEST_CLI")))
                {
                    await Dist.ShippedServerAsync();
                }
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        }

        // The CLI of the CLI and fleet scenarios follows the agent: the NativeAOT runcmd operators install, when it is
        // built and the native builds are chosen (CliRunner starts what RUNCMD_TEST_CLI names; one set from outside wins).
        if (build == AgentBuild.Native && File.Exists(SuiteContext.NativeCliPath)
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RUNCMD_TEST_CLI")))
        {
            Environment.SetEnvironmentVariable("RUNCMD_TEST_CLI", SuiteContext.NativeCliPath);
        }

        // The server likewise: the shipped build (self-contained, ReadyToRun) when it is built and the shipped builds are
        // chosen; RUNCMD_TEST_SERVER set from outside wins (empty: the development dll).
        if (build == AgentBuild.Native && File.Exists(SuiteContext.ShippedServerPath)
            && Environment.GetEnvironmentVariable("RUNCMD_TEST_SERVER") is null)
        {
            Environment.SetEnvironmentVariable("RUNCMD_TEST_SERVER", SuiteContext.ShippedServerPath);
        }

        var unknown = only.Where(name => All.All(s => s.Name != name)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"error: unknown scenario {string.Join(", ", unknown)}; scenarios: {string.Join(", ", All.Select(s => s.Name))}");
            return 2;
        }

        var scenarios = All.Where(s => only.Count > 0 ? only.Contains(s.Name) : !quick || s.InQuick).ToList();
        var scratch = Directory.CreateTempSubdirectory("rc-bench-").FullName;
        var context = new SuiteContext(quick, scratch, build, swarmAgents, agentLongPollSeconds);
        var failed = new List<string>();
        var load = new List<string> { ProcessStats.LoadAverage() };
        var started = Stopwatch.GetTimestamp();
        Console.WriteLine($"RunCommand benchmark suite{(quick ? " (quick)" : "")}: {Environment.ProcessorCount} cores, load average {load[0]} at start, {context.AgentLabel}, {context.CliLabel} and {SuiteContext.ServerLabel}{(build == AgentBuild.Native ? $" ({SuiteContext.NativeAgentPath}, built {File.GetLastWriteTimeUtc(SuiteContext.NativeAgentPath):u})" : "")}{(SuiteContext.ServerIsShipped ? $"; the server built {File.GetLastWriteTimeUtc(SuiteContext.ShippedServerPath + ".dll"):u}" : "")}");
        Console.WriteLine($"this machine at the start: {await MachineCosts.MeasureAsync()}");
        try
        {
            foreach (var scenario in scenarios)
            {
                Console.WriteLine($"== {scenario.Name}");
                var scenarioStarted = Stopwatch.GetTimestamp();
                try
                {
                    await scenario.RunAsync(context);
                }
                catch (Exception e)
                {
                    // One scenario failing must not hide the others' figures.
                    failed.Add(scenario.Name);
                    Console.WriteLine($"  {scenario.Name} failed: {e.GetType().Name}: {e.Message}");
                }

                load.Add(ProcessStats.LoadAverage());
                Console.WriteLine($"  ({Stopwatch.GetElapsedTime(scenarioStarted).TotalSeconds:F0} s, load average {load[^1]})");
            }
        }
        finally
        {
            try
            {
                Directory.Delete(scratch, recursive: true);
            }
            catch (IOException)
            {
                // A script may still hold a file; the temp dir is cleaned by the OS.
            }
        }

        Console.WriteLine();
        var table = new ConsoleTable("figure", "measured", "baseline (same run)", "target", "met");
        foreach (var figure in context.Figures)
        {
            table.AddRow(figure.Name, figure.Measured, figure.Baseline, figure.Target, figure.Met switch { true => "yes", false => "no", null => "-" });
        }

        table.Configure(o => o.EnableCount = false);
        // One line per figure: the table is Markdown, pasted as is into docs/performance.md.
        table.MaxWidth = int.MaxValue;
        Console.WriteLine(table.ToMarkDownString());
        Console.WriteLine($"load average (1 min) during the run: {string.Join(" → ", load)}; {Stopwatch.GetElapsedTime(started).TotalMinutes:F1} min");
        Console.WriteLine($"this machine at the end: {await MachineCosts.MeasureAsync()}");
        if (failed.Count > 0)
        {
            Console.WriteLine($"scenarios that failed: {string.Join(", ", failed)}");
        }

        return failed.Count == 0 ? 0 : 1;
    }
}
