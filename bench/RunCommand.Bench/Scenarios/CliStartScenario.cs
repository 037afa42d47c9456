using System.Diagnostics;
using RunCommand.Bench.Measure;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// How long the real <c>runcmd</c> CLI takes as a process: <c>--version</c>, and <c>vm run-command show</c> of one
/// command over https; beside a bare <c>bash -c true</c>. (How the CLI is compiled is decided in the packaging work.)
/// </summary>
public sealed class CliStartScenario : IScenario
{
    public string Name => "cli";

    public bool InQuick => true;

    public async Task RunAsync(SuiteContext context)
    {
        var runs = context.Quick ? 10 : 30;
        await using var server = await context.StartServerAsync("cli");
        await using var agent = await context.StartAgentAsync(server, "cli-vm", "bench", Path.Combine(context.NewDir("cli-agent"), "agent"));
        var cli = new CliRunner(context.NewDir("cli-config"));
        await cli.LoginAsync(server);
        var created = await cli.RunAsync("vm", "run-command", "create", "-g", "bench", "--vm-name", "cli-vm", "-n", "shown", "--script", "echo hi");
        if (created.ExitCode != 0)
        {
            throw new InvalidOperationException("runcmd vm run-command create failed: " + created.Stdout + created.Stderr);
        }

        var version = new Samples();
        var show = new Samples();
        var bash = new Samples();
        for (var i = 0; i < runs; i++)
        {
            version.Add(await TimeAsync(cli, "--version"));
            show.Add(await TimeAsync(cli, "vm", "run-command", "show", "-g", "bench", "--vm-name", "cli-vm", "-n", "shown"));
            bash.Add(await Baselines.BashTrueAsync());
        }

        foreach (var (name, samples) in new[] { ("runcmd --version", version), ("runcmd vm run-command show (https)", show) })
        {
            context.Add(new Figure
            {
                Name = $"CLI start ({context.CliLabel}): {name} ({runs} runs)",
                Measured = $"median {Samples.Ms(samples.Median)}",
                Baseline = $"bash -c true median {Samples.Ms(bash.Median)}",
                Target = "≤ 50 ms",
                Met = samples.Median <= 50,
            });
        }
    }

    private static async Task<double> TimeAsync(CliRunner cli, params string[] args)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await cli.RunAsync(args);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return result.ExitCode == 0 ? elapsed : throw new InvalidOperationException($"runcmd {string.Join(' ', args)} failed: {result.Stdout}{result.Stderr}");
    }
}
