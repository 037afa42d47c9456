using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using RunCommand.Bench.Measure;
using RunCommand.Contracts;
using AsyncOperationStatus = RunCommand.Contracts.Arm.OperationStatus;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// A trivial script, PUT until the client sees the terminal state, over https with one real agent, three ways: polling
/// the Azure-AsyncOperation URL every 2 ms (an ARM client without our extension), with <c>waitSeconds</c>, and with the
/// Azure SDK's <c>WaitUntil.Completed</c>; each interleaved with a bare <c>bash -c true</c> so both see the same load.
/// </summary>
public sealed class HttpsLatencyScenario : IScenario
{
    public string Name => "latency";

    public bool InQuick => true;

    public async Task RunAsync(SuiteContext context)
    {
        var iterations = context.Quick ? 60 : 300;
        var warmup = context.Quick ? 30 : 100;
        await using var server = await context.StartServerAsync("latency");
        await using var agent = await context.StartAgentAsync(server, "lat-vm", "bench", Path.Combine(context.NewDir("latency-agent"), "agent"));
        using var http = server.CreateHttpClient();
        // One run command per way: two ways PUTting the same body to one name would find it unchanged (already terminal).
        string Url(string name) => $"/subscriptions/{server.SubscriptionId}/resourceGroups/bench/providers/Microsoft.Compute/virtualMachines/lat-vm/runCommands/{name}?api-version=2023-07-01";
        var sdk = SdkCommands(server);

        var ways = new (string Name, Func<int, Task> Run)[]
        {
            ("operation URL polled every 2 ms", i => PollAsync(http, Url("trivial-poll"), i, wait: false)),
            ("operation URL with waitSeconds=30", i => PollAsync(http, Url("trivial-wait"), i, wait: true)),
            ("Azure SDK WaitUntil.Completed", i => SdkAsync(sdk, i)),
        };
        // Every way is warmed before any is measured (the server's JIT tiers up in the first few hundred calls), then
        // the ways take turns run by run, each followed by a bash -c true, so all of them see the same load.
        for (var i = 0; i < warmup; i++)
        {
            foreach (var (_, run) in ways)
            {
                await run(-i - 1);
            }

            await Baselines.BashTrueAsync();
        }

        var endToEnd = ways.Select(_ => new Samples()).ToArray();
        var bash = ways.Select(_ => new Samples()).ToArray();
        for (var i = 0; i < iterations; i++)
        {
            for (var w = 0; w < ways.Length; w++)
            {
                var started = Stopwatch.GetTimestamp();
                await ways[w].Run(i);
                endToEnd[w].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                bash[w].Add(await Baselines.BashTrueAsync());
            }
        }

        for (var w = 0; w < ways.Length; w++)
        {
            var p50 = endToEnd[w].P50 - bash[w].P50;
            var p99 = endToEnd[w].P99 - bash[w].P99;
            context.Add(new Figure
            {
                Name = $"trivial script PUT→terminal, https, {ways[w].Name} ({iterations} runs, {context.AgentLabel})",
                Measured = $"p50 {Samples.Ms(endToEnd[w].P50)}, p99 {Samples.Ms(endToEnd[w].P99)}; overhead p50 {Samples.Ms(p50)}, p99 {Samples.Ms(p99)}",
                Baseline = $"bash -c true p50 {Samples.Ms(bash[w].P50)}, p99 {Samples.Ms(bash[w].P99)}",
                Target = "overhead p50 ≤ 10 ms, p99 ≤ 30 ms",
                Met = p50 <= 10 && p99 <= 30,
            });
        }
    }

    private static async Task PollAsync(HttpClient http, string url, int i, bool wait)
    {
        using var put = await http.PutAsync(url, new StringContent(Body(i), Encoding.UTF8, "application/json"));
        put.EnsureSuccessStatusCode();
        var operationUrl = put.Headers.GetValues("Azure-AsyncOperation").Single() + (wait ? "&waitSeconds=30" : "");
        while (true)
        {
            var operation = await http.GetFromJsonAsync(operationUrl, ContractsJsonContext.Default.AsyncOperation);
            if (operation!.Status != AsyncOperationStatus.InProgress)
            {
                if (operation.Status != AsyncOperationStatus.Succeeded)
                {
                    throw new InvalidOperationException($"Run {i} ended {operation.Status}");
                }

                return;
            }

            if (!wait)
            {
                await Task.Delay(2);
            }
        }
    }

    private static string Body(int i) =>
        """{"location":"local","properties":{"source":{"script":"true # N"}}}""".Replace("N", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static VirtualMachineRunCommandCollection SdkCommands(ServerProcess server)
    {
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(new Uri(server.Url), server.Url),
            Transport = new HttpClientTransport(server.CreateHttpClient(token: null)),
        };
        var arm = new ArmClient(new StaticToken(server.AdminToken), server.SubscriptionId, options);
        return arm.GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(server.SubscriptionId, "bench", "lat-vm")).GetVirtualMachineRunCommands();
    }

    private static async Task SdkAsync(VirtualMachineRunCommandCollection commands, int i)
    {
        var data = new VirtualMachineRunCommandData(new AzureLocation("local"))
        {
            Source = new VirtualMachineRunCommandScriptSource { Script = $"true # {i}" },
        };
        var operation = await commands.CreateOrUpdateAsync(WaitUntil.Completed, "trivial-sdk", data);
        if (operation.Value.Data.InstanceView?.ExecutionState != ExecutionState.Succeeded && operation.Value.Data.ProvisioningState != "Succeeded")
        {
            throw new InvalidOperationException($"SDK run {i} ended {operation.Value.Data.ProvisioningState}");
        }
    }

    private sealed class StaticToken(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
