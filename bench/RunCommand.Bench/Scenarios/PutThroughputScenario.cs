using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using RunCommand.Bench.Measure;
using RunCommand.Bench.Swarm;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// Run-command PUTs of distinct commands to many VMs with no agent polling, from 16 concurrent https clients (each its
/// own connection), on SQLite or on PostgreSQL (a server the suite starts with the tests' starter): PUTs per second and
/// latency; beside an authenticated GET of a VM by the same clients. The per-VM limit is raised to 10,000 for this
/// scenario only, so 200 VMs can take every PUT.
/// </summary>
public sealed class PutThroughputScenario(bool onPostgres) : IScenario
{
    private const int Clients = 16;
    private const int Vms = 200;

    public string Name => onPostgres ? "put-throughput-pg" : "put-throughput";

    private string Backend => onPostgres ? "PostgreSQL" : "SQLite";

    public bool InQuick => true;

    public async Task RunAsync(SuiteContext context)
    {
        var duration = TimeSpan.FromSeconds(context.Quick ? 5 : 15);
        var extraArgs = new List<string> { "--max-run-commands-per-vm", "10000" };
        if (onPostgres)
        {
            var postgres = await PostgresServer.SharedAsync();
            extraArgs.AddRange(["--postgres", await postgres.CreateDatabaseAsync("bench")]);
        }

        await using var server = await context.StartServerAsync("put", extraArgs: extraArgs);
        var token = File.ReadAllText(server.EnrollTokenFile).Trim();
        await using (await AgentSwarm.StartAsync(SwarmFleet.Options(server, "put", "put"), Vms, token, CancellationToken.None, poll: false))
        {
        }

        var clients = Enumerable.Range(0, Clients).Select(_ => server.CreateHttpClient()).ToList();
        try
        {
            var vmUrl = $"/subscriptions/{server.SubscriptionId}/resourceGroups/put/providers/Microsoft.Compute/virtualMachines/";
            string VmName(int i) => "put" + (i % Vms).ToString("D5", CultureInfo.InvariantCulture);
            await MeasureAsync(clients, TimeSpan.FromSeconds(2), (http, n) => http.GetAsync($"{vmUrl}{VmName(n)}?api-version=2023-07-01"));
            var reads = await MeasureAsync(clients, duration, (http, n) => http.GetAsync($"{vmUrl}{VmName(n)}?api-version=2023-07-01"));
            var puts = await MeasureAsync(clients, duration, (http, n) =>
            {
                var body = new StringContent("""{"location":"local","properties":{"source":{"script":"echo hi"}}}""", Encoding.UTF8);
                body.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                return http.PutAsync($"{vmUrl}{VmName(n)}/runCommands/c{n / Vms}?api-version=2023-07-01", body);
            });
            context.Add(new Figure
            {
                Name = $"distinct run-command PUTs, {Clients} https clients, {Vms} VMs, no agent, {Backend} ({duration.TotalSeconds:F0} s)",
                Measured = $"{puts.PerSecond:F0}/s, p50 {Samples.Ms(puts.Latency.P50)}, p99 {Samples.Ms(puts.Latency.P99)}",
                Baseline = $"GET of a VM by the same clients {reads.PerSecond:F0}/s, p99 {Samples.Ms(reads.Latency.P99)}",
                Target = "≥ 2,000/s with p99 ≤ 50 ms",
                Met = puts.PerSecond >= 2000 && puts.Latency.P99 <= 50,
            });
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    private sealed record Throughput(double PerSecond, Samples Latency);

    /// <summary>Every client sends requests back to back for the duration; every answer must be a success.</summary>
    private static async Task<Throughput> MeasureAsync(List<HttpClient> clients, TimeSpan duration, Func<HttpClient, int, Task<HttpResponseMessage>> send)
    {
        var next = -1;
        var latency = new Samples();
        var started = Stopwatch.GetTimestamp();
        var end = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(clients.Select(async http =>
        {
            var mine = new List<double>();
            while (Stopwatch.GetTimestamp() < end)
            {
                var n = Interlocked.Increment(ref next);
                var sent = Stopwatch.GetTimestamp();
                using var response = await send(http, n);
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"Request {n} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }

                mine.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            }

            lock (latency)
            {
                mine.ForEach(latency.Add);
            }
        }));
        return new Throughput(latency.Count / Stopwatch.GetElapsedTime(started).TotalSeconds, latency);
    }
}
