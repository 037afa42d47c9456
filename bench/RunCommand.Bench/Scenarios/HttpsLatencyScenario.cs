using RunCommand.Bench.Measure;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// A trivial script, PUT until the client sees the terminal state, over https with one real agent, three ways: polling
/// the Azure-AsyncOperation URL every 2 ms (an ARM client without our extension), with <c>waitSeconds</c>, and with the
/// Azure SDK's <c>WaitUntil.Completed</c>; each interleaved with a bare <c>bash -c true</c> so both see the same load.
/// Twice: runs back to back, then each run after a quiet spell (a lone command, what a person at a prompt sees).
/// </summary>
public sealed class HttpsLatencyScenario : IScenario
{
    public string Name => "latency";

    public bool InQuick => true;

    public async Task RunAsync(SuiteContext context)
    {
        var iterations = context.Quick ? 40 : 300;
        var warmup = context.Quick ? 20 : 100;
        await using var server = await context.StartServerAsync("latency");
        await using var agent = await context.StartAgentAsync(server, "lat-vm", "bench", Path.Combine(context.NewDir("latency-agent"), "agent"));
        using var http = server.CreateHttpClient();
        var ways = TrivialRunWays.For(server, http, "lat-vm");
        var (endToEnd, bash) = await TrivialRunWays.MeasureAsync(ways, warmup, iterations);
        Report(context, ways, endToEnd, bash, $"{iterations} runs back to back");
        // Then each run after a quiet spell: how a person's command finds the machine (docs/performance.md, item 39).
        var quietRuns = context.Quick ? 20 : 150;
        var (quietEndToEnd, quietBash) = await TrivialRunWays.MeasureAsync(ways, 0, quietRuns, Quiet);
        Report(context, ways, quietEndToEnd, quietBash, $"{quietRuns} runs, each after {Quiet.TotalMilliseconds:0} ms idle");
    }

    /// <summary>Idle time before each run of the second series: longer than the agent's spare wrapper needs to be made.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(250);

    private static void Report(SuiteContext context, IReadOnlyList<TrivialRunWay> ways, Samples[] endToEnd, Samples[] bash, string runs)
    {
        for (var w = 0; w < ways.Count; w++)
        {
            var p50 = endToEnd[w].P50 - bash[w].P50;
            var p99 = endToEnd[w].P99 - bash[w].P99;
            context.Add(new Figure
            {
                Name = $"trivial script PUT→terminal, https, {ways[w].Name} ({runs}, {context.AgentLabel})",
                Measured = $"p50 {Samples.Ms(endToEnd[w].P50)}, p99 {Samples.Ms(endToEnd[w].P99)}; overhead p50 {Samples.Ms(p50)}, p99 {Samples.Ms(p99)}",
                Baseline = $"bash -c true p50 {Samples.Ms(bash[w].P50)}, p99 {Samples.Ms(bash[w].P99)}",
                Target = "overhead p50 ≤ 10 ms, p99 ≤ 30 ms",
                Met = p50 <= 10 && p99 <= 30,
            });
        }
    }
}
