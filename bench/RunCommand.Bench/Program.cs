using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

// End-to-end latency of a trivial run command (PUT until the client sees the terminal state) beside the cost of a
// bare `bash -c true` on the same machine, measured in one run so the ratio holds on a noisy shared machine.
if (args.FirstOrDefault() == "nodes")
{
    return await NodesBench.RunAsync(ReadArg("--iterations", 100), ReadArg("--warmup", 20));
}

if (args.FirstOrDefault() == "stop")
{
    return await StopBench.RunAsync(ReadArg("--agents", 10), ReadArg("--rounds", 5));
}

var iterations = ReadArg("--iterations", 200);
var warmup = ReadArg("--warmup", 50);

var dir = Directory.CreateTempSubdirectory("rc-bench-").FullName;
try
{
    await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"));
    await using var agent = await AgentProcess.StartAsync(server, "bench-vm", "bench", Path.Combine(dir, "agent"));
    using var http = server.CreateHttpClient();
    var url = $"/subscriptions/{server.SubscriptionId}/resourceGroups/bench/providers/Microsoft.Compute/virtualMachines/bench-vm/runCommands/trivial?api-version=2023-07-01";

    async Task<double> RunCommandOnceAsync(int i)
    {
        var body = """{"location":"local","properties":{"source":{"script":"true # N"}}}""".Replace("N", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var started = Stopwatch.GetTimestamp();
        using var put = await http.PutAsync(url, new StringContent(body, Encoding.UTF8, "application/json"));
        put.EnsureSuccessStatusCode();
        var operationUrl = put.Headers.GetValues("Azure-AsyncOperation").Single() + "&waitSeconds=30";
        while (true)
        {
            var operation = await http.GetFromJsonAsync(operationUrl, ContractsJsonContext.Default.AsyncOperation);
            if (operation!.Status != OperationStatus.InProgress)
            {
                if (operation.Status != OperationStatus.Succeeded)
                {
                    throw new InvalidOperationException($"Run {i} ended {operation.Status}");
                }

                return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }
    }

    static async Task<double> BashOnceAsync()
    {
        var started = Stopwatch.GetTimestamp();
        var psi = new ProcessStartInfo("/bin/bash") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("true");
        using var process = Process.Start(psi)!;
        await process.WaitForExitAsync();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    for (var i = 0; i < warmup; i++)
    {
        await RunCommandOnceAsync(-i - 1);
        await BashOnceAsync();
    }

    // Interleave the two so both see the same machine load.
    var endToEnd = new List<double>();
    var bash = new List<double>();
    for (var i = 0; i < iterations; i++)
    {
        endToEnd.Add(await RunCommandOnceAsync(i));
        bash.Add(await BashOnceAsync());
    }

    Console.WriteLine($"run command end to end (PUT until terminal state seen), {iterations} runs: {Summary(endToEnd)}");
    Console.WriteLine($"bare bash -c true on this machine,                   {iterations} runs: {Summary(bash)}");
    Console.WriteLine($"overhead: p50 {Percentile(endToEnd, 50) - Percentile(bash, 50):F2} ms, p99 {Percentile(endToEnd, 99) - Percentile(bash, 99):F2} ms (target: p50 <= 10 ms)");
    return 0;
}
finally
{
    Directory.Delete(dir, recursive: true);
}

static string Summary(List<double> samples) =>
    $"p50 {Percentile(samples, 50):F2} ms, p99 {Percentile(samples, 99):F2} ms, mean {samples.Average():F2} ms";

static double Percentile(List<double> samples, double percentile)
{
    var sorted = samples.Order().ToList();
    var rank = (int)Math.Ceiling(percentile / 100 * sorted.Count) - 1;
    return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
}

int ReadArg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], out var value) ? value : fallback;
}
