using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>A fleet run survives its server: the orchestrator's state is in the store, so a restarted server resumes.</summary>
public sealed class FleetRestartTests : IAsyncLifetime
{
    private readonly TestScope _scope = new("rc-fleet-restart-");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _scope.DisposeAsync();

    [Fact]
    public async Task KillServer_DuringFleetRun_RestartedServerFinishesItAndNothingRunsTwice()
    {
        var dataDir = Path.Combine(_scope.Dir, "server");
        var port = ServerProcess.FreePort();
        var server = await ServerProcess.StartAsync(dataDir, port: port);
        _scope.Track(server);
        await Task.WhenAll(Enumerable.Range(0, 3).Select(async i =>
        {
            var agent = await AgentProcess.StartAsync(server, $"r{i}", "restart", Path.Combine(_scope.Dir, "agents", $"r{i}"));
            _scope.Track(agent);
        }));
        var work = Path.Combine(_scope.Dir, "work");
        Directory.CreateDirectory(work);
        var gate = Path.Combine(work, "gate");
        var run = new FleetRunRef(server.SubscriptionId, "restart", "resume");
        using (var client = Client(server))
        {
            await client.CreateFleetRunAsync(run, new FleetRunResource
            {
                Location = "local",
                Properties = new FleetRunProperties
                {
                    Targets = new FleetTargets { ResourceGroup = "restart" },
                    Source = new RunCommandSource { Script = $"echo run >> {work}/count; {Gate.WaitFor(gate, 0.5)}; echo ok" },
                    MaxConcurrency = "1",
                },
            });
            await Wait.UntilAsync(async () => (await client.GetFleetRunAsync(run)).Properties!.InstanceView!.Counts[ExecutionStates.Running] == 1,
                TimeSpan.FromSeconds(60), "the first target to run");
        }

        await server.Process.KillHardAsync();
        // The first target ends while the server is down; the rest must start only once it is back.
        File.WriteAllText(gate, "");
        var again = await ServerProcess.StartAsync(dataDir, port: port);
        _scope.Track(again);
        using var after = Client(again);
        var view = await Wait.UntilAsync(async () =>
        {
            var current = await after.GetFleetRunAsync(run, waitSeconds: 10);
            return FleetRunStates.IsTerminal(current.Properties!.ProvisioningState!) ? current : null;
        }, TimeSpan.FromMinutes(3), "the fleet run to end after the restart");

        Assert.Equal(FleetRunStates.Succeeded, view.Properties!.ProvisioningState);
        Assert.Equal(3, view.Properties.InstanceView!.Counts[ExecutionStates.Succeeded]);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(work, "count")).Length);
    }

    private static RunCommandClient Client(ServerProcess server) => new(new RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken });
}
