using System.Diagnostics;
using System.Globalization;
using RunCommand.Bench.Measure;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// <c>runcmd fleet run-command create --script 'echo hi'</c> to real agents (50; 10 in the quick suite), wall time of
/// the CLI process (its start included), median of several runs; beside the CLI's own start (<c>--version</c>) and a
/// bare <c>bash -c 'echo hi'</c> measured in the same loop.
/// </summary>
public sealed class FleetRealAgentsScenario : IScenario
{
    public string Name => "fleet-real";

    public bool InQuick => true;

    public async Task RunAsync(SuiteContext context)
    {
        var count = context.Quick ? 10 : 50;
        var runs = context.Quick ? 3 : 5;
        await using var server = await context.StartServerAsync("fleet-real");
        var agentsDir = context.NewDir("fleet-real-agents");
        var agents = new List<AgentProcess>();
        try
        {
            // A few at a time: fifty .NET processes starting at once on two cores only measure the start storm.
            foreach (var batch in Enumerable.Range(0, count).Chunk(5))
            {
                agents.AddRange(await Task.WhenAll(batch.Select(i => context.StartAgentAsync(server, $"real{i:00}", "bench",
                    Path.Combine(agentsDir, $"real{i:00}"), new Dictionary<string, string> { ["fleet"] = "real" }))));
            }

            var cli = new CliRunner(context.NewDir("fleet-real-cli"));
            await cli.LoginAsync(server);
            // Warm-up run: the first fleet run pays the server's JIT.
            await RunFleetAsync(cli, "warmup", count);
            var fleet = new Samples();
            var cliStart = new Samples();
            var bash = new Samples();
            var scripts = new Samples();
            // Where a machine's share of the runs goes: its agent's CPU and page faults, and its wrappers' and scripts'
            // (the agent waits for its wrappers, which wait for their scripts), and the server's.
            var total = default(ProcessUsage);
            var serverCpu = TimeSpan.Zero;
            for (var i = 0; i < runs; i++)
            {
                var before = AgentsUsage(agents);
                var serverBefore = ProcessStats.CpuTime(server.Process.Pid);
                fleet.Add(await RunFleetAsync(cli, "run" + i.ToString(CultureInfo.InvariantCulture), count));
                total += AgentsUsage(agents) - before;
                serverCpu += ProcessStats.CpuTime(server.Process.Pid) - serverBefore;
                var started = Stopwatch.GetTimestamp();
                await cli.RunAsync("--version");
                cliStart.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                bash.Add(await Baselines.RunMsAsync("/bin/bash", "-c", "echo hi"));
                scripts.Add(await Baselines.WrappedScriptsAtOnceMsAsync(count, "echo hi"));
            }

            var perMachine = (double)(runs * count);

            context.Add(new Figure
            {
                Name = $"fleet run `echo hi` to {count} real agents, runcmd fleet run-command create wall time ({runs} runs; {context.AgentLabel}s, {context.CliLabel})",
                Measured = $"median {Samples.Seconds(fleet.Median)}, max {Samples.Seconds(fleet.Percentile(100))}",
                Baseline = $"runcmd --version median {Samples.Ms(cliStart.Median)}; bash -c 'echo hi' {Samples.Ms(bash.Median)}; "
                    + $"the {count} scripts alone, wrapped as the agent does, all at once {Samples.Seconds(scripts.Median)}; "
                    + $"a machine a run: agent {Samples.Ms(total.Cpu.TotalMilliseconds / perMachine)} CPU and {total.Faults / perMachine:0} page faults, "
                    + $"its wrapper and script {Samples.Ms(total.ChildrenCpu.TotalMilliseconds / perMachine)} and {total.ChildrenFaults / perMachine:0}; "
                    + $"server {Samples.Ms(serverCpu.TotalMilliseconds / runs)} CPU a run",
                Target = count == 50 ? "≤ 0.5 s median" : "≤ 0.5 s median (at 50 agents)",
                Met = fleet.Median <= 500,
            });
        }
        finally
        {
            await Task.WhenAll(agents.Select(a => a.DisposeAsync().AsTask()));
        }
    }

    private static ProcessUsage AgentsUsage(IEnumerable<AgentProcess> agents) =>
        agents.Select(a => ProcessStats.Usage(a.Process.Pid)).Aggregate(default(ProcessUsage), (a, b) => a + b);

    private static async Task<double> RunFleetAsync(CliRunner cli, string name, int count)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await cli.RunAsync("fleet", "run-command", "create", "-g", "bench", "-n", name, "--target-tags", "fleet=real", "--script", "echo hi");
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (result.ExitCode != 0 || !result.Stdout.Contains($"{count} targets: {count} Succeeded", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"fleet run {name} did not succeed on all {count}: {result.Stdout}{result.Stderr}");
        }

        return elapsed;
    }
}
