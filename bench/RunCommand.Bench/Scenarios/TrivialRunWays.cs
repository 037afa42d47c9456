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
using RunCommand.Testing;
using AsyncOperationStatus = RunCommand.Contracts.Arm.OperationStatus;

namespace RunCommand.Bench.Scenarios;

/// <summary>One way a client runs a trivial script and waits until it sees the terminal state; <c>i</c> makes each run's script distinct.</summary>
public sealed record TrivialRunWay(string Name, Func<int, Task> Run);

/// <summary>
/// The three ways an ARM client waits for a trivial run command (<c>true # i</c>) to end, over one server's https
/// endpoint: polling the Azure-AsyncOperation URL every 2 ms (a client without our extension), with
/// <c>waitSeconds</c>, and the Azure SDK's <c>WaitUntil.Completed</c>; and the interleaved measurement of any set of
/// such ways beside a bare <c>bash -c true</c>. Shared by <c>latency</c> (one node) and <c>nodes-pg</c> (two nodes).
/// </summary>
public static class TrivialRunWays
{
    /// <summary>
    /// The three ways through <paramref name="server"/> (authenticated with <paramref name="token"/>, its admin token
    /// when null) against VM <paramref name="vmName"/> of resource group <c>bench</c>. One run command per way, named
    /// with <paramref name="suffix"/>: two ways PUTting the same body to one name would find it unchanged.
    /// </summary>
    public static IReadOnlyList<TrivialRunWay> For(ServerProcess server, HttpClient http, string vmName, string suffix = "", string? token = null)
    {
        string Url(string name) => $"/subscriptions/{server.SubscriptionId}/resourceGroups/bench/providers/Microsoft.Compute/virtualMachines/{vmName}/runCommands/{name}{suffix}?api-version=2023-07-01";
        var sdk = SdkCommands(server, vmName, token ?? server.AdminToken);
        return
        [
            new("operation URL polled every 2 ms", i => PollAsync(http, Url("trivial-poll"), i, wait: false)),
            new("operation URL with waitSeconds=30", i => PollAsync(http, Url("trivial-wait"), i, wait: true)),
            new("Azure SDK WaitUntil.Completed", i => SdkAsync(sdk, $"trivial-sdk{suffix}", i)),
        ];
    }

    /// <summary>
    /// Runs every way <paramref name="warmup"/> times (the server's JIT tiers up in the first few hundred calls), then
    /// <paramref name="iterations"/> rounds in which the ways take turns, each followed by a <c>bash -c true</c>, so
    /// all of them see the same load. Returns each way's samples and the bash samples taken right after it.
    /// </summary>
    /// <param name="quiet">
    /// Zero: the runs follow each other at once. Otherwise each run, and each <c>bash -c true</c>, comes after this much
    /// idle time, as a command a person types finds the machine: threads parked, the agent's spare wrapper ready.
    /// </param>
    public static async Task<(Samples[] EndToEnd, Samples[] Bash)> MeasureAsync(IReadOnlyList<TrivialRunWay> ways, int warmup, int iterations, TimeSpan quiet = default)
    {
        for (var i = 0; i < warmup; i++)
        {
            foreach (var way in ways)
            {
                await way.Run(-i - 1);
            }

            await Baselines.BashTrueAsync();
        }

        var endToEnd = ways.Select(_ => new Samples()).ToArray();
        var bash = ways.Select(_ => new Samples()).ToArray();
        for (var i = 0; i < iterations; i++)
        {
            for (var w = 0; w < ways.Count; w++)
            {
                await QuietAsync(quiet);
                var started = Stopwatch.GetTimestamp();
                await ways[w].Run(i);
                endToEnd[w].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                await QuietAsync(quiet);
                bash[w].Add(await Baselines.BashTrueAsync());
            }
        }

        return (endToEnd, bash);
    }

    private static async Task QuietAsync(TimeSpan quiet)
    {
        if (quiet > TimeSpan.Zero)
        {
            await Task.Delay(quiet);
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

    private static VirtualMachineRunCommandCollection SdkCommands(ServerProcess server, string vmName, string token)
    {
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(new Uri(server.Url), server.Url),
            Transport = new HttpClientTransport(server.CreateHttpClient(token: null)),
        };
        var arm = new ArmClient(new StaticToken(token), server.SubscriptionId, options);
        return arm.GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(server.SubscriptionId, "bench", vmName)).GetVirtualMachineRunCommands();
    }

    private static async Task SdkAsync(VirtualMachineRunCommandCollection commands, string name, int i)
    {
        var data = new VirtualMachineRunCommandData(new AzureLocation("local"))
        {
            Source = new VirtualMachineRunCommandScriptSource { Script = $"true # {i}" },
        };
        var operation = await commands.CreateOrUpdateAsync(WaitUntil.Completed, name, data);
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
