using System.Diagnostics;
using RunCommand.Client;
using RunCommand.Testing;

/// <summary>
/// <c>-- stop</c>: how long the server takes to exit on SIGTERM while agents are connected (their goal-state polls
/// waiting), and how long an agent takes with a script running. Target (issue 10): both within 2 s.
/// </summary>
internal static class StopBench
{
    public static async Task<int> RunAsync(int agents, int rounds)
    {
        var dir = Directory.CreateTempSubdirectory("rc-bench-stop-").FullName;
        var data = Path.Combine(dir, "server");
        var port = ServerProcess.FreePort();
        var serverStops = new List<double>();
        var agentStops = new List<double>();
        var started = new List<AgentProcess>();
        try
        {
            var server = await ServerProcess.StartAsync(data, port: port);
            for (var i = 0; i < agents; i++)
            {
                started.Add(await AgentProcess.StartAsync(server, $"stop-{i}", "bench", Path.Combine(dir, $"agent-{i}")));
            }

            for (var round = 0; round < rounds; round++)
            {
                // Every agent is polling again (it retries a stopped node with backoff) once the VM shows Connected.
                using (var client = new RunCommandClient(new RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken }))
                {
                    foreach (var agent in started)
                    {
                        var vm = new VmRef(server.SubscriptionId, "bench", agent.VmName);
                        await Wait.UntilAsync(async () => (await client.GetVmAsync(vm)).Properties.AgentInstanceView.Status == "Connected",
                            TimeSpan.FromSeconds(120), $"{agent.VmName} to be connected");
                    }
                }

                var clock = Stopwatch.StartNew();
                await server.Process.StopAsync(TimeSpan.FromSeconds(60));
                serverStops.Add(clock.Elapsed.TotalMilliseconds);
                await server.DisposeAsync();
                server = await ServerProcess.StartAsync(data, port: port);
            }

            foreach (var agent in started)
            {
                var clock = Stopwatch.StartNew();
                await agent.Process.StopAsync(TimeSpan.FromSeconds(60));
                agentStops.Add(clock.Elapsed.TotalMilliseconds);
            }

            await server.DisposeAsync();
            Console.WriteLine($"server stop on SIGTERM with {agents} agents polling, {rounds} runs: p50 {Percentile(serverStops, 50):F0} ms, max {serverStops.Max():F0} ms (target: 2000 ms)");
            Console.WriteLine($"agent stop on SIGTERM, {agents} agents:                     p50 {Percentile(agentStops, 50):F0} ms, max {agentStops.Max():F0} ms (target: 2000 ms)");
            return 0;
        }
        finally
        {
            foreach (var agent in started)
            {
                await agent.DisposeAsync();
            }

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
