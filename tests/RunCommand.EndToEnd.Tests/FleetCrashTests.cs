using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// The fast paths keep crash safety: a fleet run to twenty real agents survives kill -9 of half of its agents and of
/// the server while every target runs. Nothing is lost (every target ends Succeeded with its whole output) and nothing
/// runs twice (the scripts' shared log has exactly one line per target).
/// </summary>
public sealed class FleetCrashTests : IAsyncLifetime
{
    private const int AgentCount = 20;
    private readonly TestScope _scope = new("rc-fleet-crash-");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _scope.DisposeAsync();

    private async Task<AgentProcess> StartAgentAsync(ServerProcess server, int i)
    {
        var agent = await AgentProcess.StartAsync(server, $"crash{i:00}", "crash", Path.Combine(_scope.Dir, "agents", $"crash{i:00}"));
        _scope.Track(agent);
        return agent;
    }

    [Fact]
    public async Task KillAgentsAndServer_DuringFleetRunToTwentyAgents_NothingLostNothingRunTwice()
    {
        var dataDir = Path.Combine(_scope.Dir, "server");
        var port = ServerProcess.FreePort();
        var server = await ServerProcess.StartAsync(dataDir, port: port);
        _scope.Track(server);
        var agents = new List<AgentProcess>();
        foreach (var batch in Enumerable.Range(0, AgentCount).Chunk(5))
        {
            agents.AddRange(await Task.WhenAll(batch.Select(i => StartAgentAsync(server, i))));
        }

        var work = Path.Combine(_scope.Dir, "work");
        Directory.CreateDirectory(work);
        var log = Path.Combine(work, "runs");
        var gate = Path.Combine(work, "gate");
        var run = new FleetRunRef(server.SubscriptionId, "crash", "crash");
        using (var client = Client(server))
        {
            await client.CreateFleetRunAsync(run, new FleetRunResource
            {
                Location = "local",
                Properties = new FleetRunProperties
                {
                    Targets = new FleetTargets { ResourceGroup = "crash" },
                    Source = new RunCommandSource { Script = $"echo run >> {log}; {Gate.WaitFor(gate, 0.5)}; echo done-$((6 * 7))" },
                },
            });
            await Wait.UntilAsync(async () => (await client.GetFleetRunAsync(run)).Properties!.InstanceView!.Counts[ExecutionStates.Running] == AgentCount,
                TimeSpan.FromMinutes(2), "every target to run");
        }

        // Half of the agents and the server die at once, mid-run; the scripts live on in their own sessions and end
        // while their agents and the server are down.
        var killed = agents.Where((_, i) => i % 2 == 0).ToList();
        await Task.WhenAll(killed.Select(agent => agent.Process.KillHardAsync()).Append(server.Process.KillHardAsync()));
        File.WriteAllText(gate, "");
        var again = await ServerProcess.StartAsync(dataDir, port: port);
        _scope.Track(again);
        await Task.WhenAll(killed.Select(agent => StartAgentAsync(again, int.Parse(agent.VmName[^2..], System.Globalization.CultureInfo.InvariantCulture))));

        using var after = Client(again);
        var view = await Wait.UntilAsync(async () =>
        {
            var current = await after.GetFleetRunAsync(run, waitSeconds: 10);
            return FleetRunStates.IsTerminal(current.Properties!.ProvisioningState!) ? current : null;
        }, TimeSpan.FromMinutes(3), "the fleet run to end after the crash");

        Assert.Equal(FleetRunStates.Succeeded, view.Properties!.ProvisioningState);
        Assert.Equal(AgentCount, view.Properties.InstanceView!.Counts[ExecutionStates.Succeeded]);
        Assert.All(view.Properties.InstanceView.Targets, target => Assert.Equal("done-42", target.Output?.TrimEnd()));
        Assert.Equal(AgentCount, File.ReadAllLines(log).Length);
    }

    private static RunCommandClient Client(ServerProcess server) => new(new RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken });
}
