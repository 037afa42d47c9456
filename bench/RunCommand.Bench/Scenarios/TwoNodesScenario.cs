using RunCommand.Bench.Measure;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// Two nodes on one real PostgreSQL, over https, one real agent polling node A: a trivial script, PUT until the client
/// sees the terminal state, the three ways of <c>latency</c>, through node A (one node: the agent's) and through node B
/// (the wake-up crosses nodes through NOTIFY), all six interleaved run by run. Target: through B within 10 ms of
/// through A (p50).
/// </summary>
public sealed class TwoNodesScenario : IScenario
{
    public string Name => "nodes-pg";

    public bool InQuick => true;

    public async Task RunAsync(SuiteContext context)
    {
        var iterations = context.Quick ? 30 : 200;
        var warmup = context.Quick ? 10 : 60;
        var postgres = await PostgresServer.SharedAsync();
        var database = await postgres.CreateDatabaseAsync("bench");
        try
        {
            await using var nodeA = await context.StartServerAsync("nodes-a", extraArgs: ["--postgres", database]);
            // Nodes of one database share its secrets key (docs/scale-out.md).
            var dataDirB = Path.Combine(context.NewDir("nodes-b"), "server");
            Directory.CreateDirectory(dataDirB);
            File.Copy(Path.Combine(nodeA.DataDir, "secrets.key"), Path.Combine(dataDirB, "secrets.key"));
            File.SetUnixFileMode(Path.Combine(dataDirB, "secrets.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await using var nodeB = await context.StartServerAsync("nodes-b", extraArgs: ["--postgres", database], dataDir: dataDirB);
            // The agent knows only node A, so every run through node B crosses nodes.
            await using var agent = await context.StartAgentAsync(nodeA, "nodes-vm", "bench", Path.Combine(context.NewDir("nodes-agent"), "agent"));
            using var viaA = nodeA.CreateHttpClient();
            using var viaB = nodeB.CreateHttpClient(nodeA.AdminToken);
            var waysA = TrivialRunWays.For(nodeA, viaA, "nodes-vm", "-a");
            var waysB = TrivialRunWays.For(nodeB, viaB, "nodes-vm", "-b", nodeA.AdminToken);
            var (endToEnd, bash) = await TrivialRunWays.MeasureAsync([.. waysA, .. waysB], warmup, iterations);
            for (var w = 0; w < waysA.Count; w++)
            {
                var (a, b) = (endToEnd[w], endToEnd[waysA.Count + w]);
                var crossNode = b.P50 - a.P50;
                context.Add(new Figure
                {
                    Name = $"trivial script PUT→terminal, https, two nodes on PostgreSQL, {waysA[w].Name}, through the other node ({iterations} runs, {context.AgentLabel})",
                    Measured = $"p50 {Samples.Ms(b.P50)}, p99 {Samples.Ms(b.P99)}; cross-node cost p50 {Samples.Ms(crossNode)}",
                    Baseline = $"through the agent's node p50 {Samples.Ms(a.P50)}, p99 {Samples.Ms(a.P99)}; bash -c true p50 {Samples.Ms(bash[w].P50)}",
                    Target = "p50 within 10 ms of one node",
                    Met = crossNode <= 10,
                });
            }
        }
        finally
        {
            await postgres.DropDatabaseAsync(database);
        }
    }
}
