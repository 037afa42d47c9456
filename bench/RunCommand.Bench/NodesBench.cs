using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

/// <summary>
/// <c>-- nodes</c>: two nodes on one real PostgreSQL, the agent polling node A. p50/p99 of PUT until the terminal state
/// is seen, for a trivial script, with the PUT and the wait on node B (the wake-up crosses nodes through NOTIFY) beside
/// the same on node A (one node). Target (issue 8): the difference within 10 ms.
/// </summary>
internal static class NodesBench
{
    public static async Task<int> RunAsync(int iterations, int warmup)
    {
        var dir = Directory.CreateTempSubdirectory("rc-bench-nodes-").FullName;
        var postgres = await PostgresServer.SharedAsync();
        var database = await postgres.CreateDatabaseAsync("bench");
        try
        {
            await using var nodeA = await ServerProcess.StartAsync(Path.Combine(dir, "a"), extraArgs: ["--postgres", database]);
            Directory.CreateDirectory(Path.Combine(dir, "b"));
            File.Copy(Path.Combine(dir, "a", "secrets.key"), Path.Combine(dir, "b", "secrets.key"));
            await using var nodeB = await ServerProcess.StartAsync(Path.Combine(dir, "b"), extraArgs: ["--postgres", database]);
            await using var agent = await AgentProcess.StartAsync(nodeA, "bench-vm", "bench", Path.Combine(dir, "agent"), serverUrls: nodeA.Url);
            using var viaA = nodeA.CreateHttpClient();
            using var viaB = nodeB.CreateHttpClient(nodeA.AdminToken);
            var path = $"/subscriptions/{nodeA.SubscriptionId}/resourceGroups/bench/providers/Microsoft.Compute/virtualMachines/bench-vm/runCommands/trivial?api-version=2023-07-01";

            async Task<double> OnceAsync(HttpClient http, int i)
            {
                var body = """{"location":"local","properties":{"source":{"script":"true # N"}}}""".Replace("N", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
                var started = Stopwatch.GetTimestamp();
                using var put = await http.PutAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
                put.EnsureSuccessStatusCode();
                var operationUrl = put.Headers.GetValues("Azure-AsyncOperation").Single() + "&waitSeconds=30";
                while ((await http.GetFromJsonAsync(operationUrl, ContractsJsonContext.Default.AsyncOperation))!.Status == OperationStatus.InProgress)
                {
                }

                return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }

            for (var i = 0; i < warmup; i++)
            {
                await OnceAsync(viaA, -2 * i - 1);
                await OnceAsync(viaB, -2 * i - 2);
            }

            var sameNode = new List<double>();
            var otherNode = new List<double>();
            for (var i = 0; i < iterations; i++)
            {
                sameNode.Add(await OnceAsync(viaA, 2 * i));
                otherNode.Add(await OnceAsync(viaB, (2 * i) + 1));
            }

            Console.WriteLine($"PUT and wait on the agent's node (A),   {iterations} runs: p50 {Percentile(sameNode, 50):F2} ms, p99 {Percentile(sameNode, 99):F2} ms");
            Console.WriteLine($"PUT and wait on the other node (B),      {iterations} runs: p50 {Percentile(otherNode, 50):F2} ms, p99 {Percentile(otherNode, 99):F2} ms");
            Console.WriteLine($"cross-node cost: p50 {Percentile(otherNode, 50) - Percentile(sameNode, 50):F2} ms (target: <= 10 ms)");
            return 0;
        }
        finally
        {
            await postgres.DropDatabaseAsync(database);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double Percentile(List<double> samples, double percentile)
    {
        var sorted = samples.Order().ToList();
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }
}
