using System.Diagnostics;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.Bench.Swarm;

/// <summary>Fleet runs over a swarm, timed from the create call until the client sees the run terminal.</summary>
public static class SwarmFleet
{
    public static RunCommandClient Client(ServerProcess server) => new(new RunCommandClientOptions
    {
        Server = new Uri(server.Url),
        Token = server.AdminToken,
        CaCertificatePath = server.IsHttps ? server.CaCertFile : null,
    });

    public static SwarmOptions Options(ServerProcess server, string resourceGroup, string tag) => new()
    {
        Server = new Uri(server.Url),
        CaCertificateFile = server.IsHttps ? server.CaCertFile : null,
        ResourceGroup = resourceGroup,
        NamePrefix = tag,
        Tags = new Dictionary<string, string> { ["swarm"] = tag },
    };

    /// <summary>
    /// Runs <c>echo hi</c> on every machine tagged <c>swarm=tag</c>; returns the milliseconds until the client saw it
    /// terminal, all succeeded, and how many views of the run its waiting GETs got on the way (each a view the server built).
    /// </summary>
    public static async Task<(double Milliseconds, int Views)> RunAsync(RunCommandClient client, ServerProcess server, string resourceGroup, string tag, string name, int expected, TimeSpan timeout)
    {
        var run = new FleetRunRef(server.SubscriptionId, resourceGroup, name);
        var started = Stopwatch.GetTimestamp();
        await client.CreateFleetRunAsync(run, new FleetRunResource
        {
            Location = "local",
            Properties = new FleetRunProperties
            {
                Targets = new FleetTargets { Tags = new Dictionary<string, string> { ["swarm"] = tag } },
                Source = new RunCommandSource { Script = "echo hi" },
            },
        });
        using var deadline = new CancellationTokenSource(timeout);
        for (var views = 1; ; views++)
        {
            var view = await client.GetFleetRunAsync(run, waitSeconds: 10, deadline.Token);
            if (FleetRunStates.IsTerminal(view.Properties!.ProvisioningState!))
            {
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var succeeded = view.Properties.InstanceView!.Counts.GetValueOrDefault(ExecutionStates.Succeeded);
                return succeeded == expected
                    ? (elapsed, views)
                    : throw new InvalidOperationException($"Fleet run {name} ended {view.Properties.ProvisioningState} with {succeeded} of {expected} succeeded.");
            }
        }
    }
}
