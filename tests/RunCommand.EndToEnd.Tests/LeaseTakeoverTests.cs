using System.Diagnostics;
using System.Text.Json;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Leases on background work (issue 8 item 3): the node driving a fleet run and a deployment is killed with -9; the
/// other node takes both over once their leases run out (10 s) and finishes them without running a target or a
/// step twice. Two server processes share one database (here one SQLite file on one host).
/// </summary>
public sealed class LeaseTakeoverTests : IAsyncLifetime
{
    private readonly TestScope _scope = new("rc-takeover-");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _scope.DisposeAsync();

    [Fact]
    public async Task KillDrivingNode_FleetRunAndDeploymentInFlight_OtherNodeFinishesBothOnce()
    {
        var data = Path.Combine(_scope.Dir, "server");
        var nodeA = await ServerProcess.StartAsync(data);
        _scope.Track(nodeA);
        var portB = ServerProcess.FreePort();
        var urlB = $"http://127.0.0.1:{portB}";
        foreach (var i in Enumerable.Range(0, 3))
        {
            _scope.Track(await AgentProcess.StartAsync(nodeA, $"t{i}", "takeover", Path.Combine(_scope.Dir, "agents", $"t{i}"), serverUrls: $"{nodeA.Url},{urlB}"));
        }

        var work = Path.Combine(_scope.Dir, "work");
        Directory.CreateDirectory(work);
        var gate = Path.Combine(work, "gate");
        var subscription = nodeA.SubscriptionId;
        var fleet = new FleetRunRef(subscription, "takeover", "wave");
        using (var clientA = Client(nodeA))
        {
            await clientA.CreateFleetRunAsync(fleet, new FleetRunResource
            {
                Location = "local",
                Properties = new FleetRunProperties
                {
                    Targets = new FleetTargets { ResourceGroup = "takeover" },
                    Source = new RunCommandSource { Script = $"echo run >> {work}/fleet.count; {Gate.WaitFor(gate, 0.5)}; echo wave" },
                    MaxConcurrency = "1",
                },
            });
            var template = JsonDocument.Parse("""
                {"resources":[
                   {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"t0/step1","location":"local",
                    "properties":{"source":{"script":"echo run >> 'WORK/step1.count'; WAIT_FOR_GATE; echo one"}}},
                   {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"t0/step2","location":"local",
                    "dependsOn":["[resourceId('Microsoft.Compute/virtualMachines/runCommands', 't0', 'step1')]"],
                    "properties":{"source":{"script":"echo run >> 'WORK/step2.count'; echo two"}}},
                   {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"t0/step3","location":"local",
                    "dependsOn":["[resourceId('Microsoft.Compute/virtualMachines/runCommands', 't0', 'step2')]"],
                    "properties":{"source":{"script":"echo run >> 'WORK/step3.count'; echo three"}}}]}
                """.Replace("WORK", work, StringComparison.Ordinal).Replace("WAIT_FOR_GATE", Gate.WaitFor(gate, 0.5), StringComparison.Ordinal)).RootElement.Clone();
            await clientA.CreateDeploymentAsync(subscription, "takeover", "three", template, JsonDocument.Parse("{}").RootElement.Clone());
            await Wait.UntilAsync(async () => (await clientA.GetFleetRunAsync(fleet)).Properties!.InstanceView!.Counts[ExecutionStates.Running] == 1,
                TimeSpan.FromSeconds(60), "the first fleet target to run");
            await DeploymentTests.WaitForRunningAsync(clientA, new RunCommandRef(subscription, "takeover", "t0", "step1"));
        }

        // Node B starts while A holds both leases; then A dies in the middle of both runs.
        var nodeB = await ServerProcess.StartAsync(data, port: portB);
        _scope.Track(nodeB);
        await nodeA.Process.KillHardAsync();
        var clock = Stopwatch.StartNew();
        await File.WriteAllTextAsync(gate, "");
        using var clientB = Client(nodeB);

        await Wait.UntilAsync(async () => (await clientB.GetFleetRunAsync(fleet)).Properties!.InstanceView!.Targets.Count(t => t.State != ExecutionStates.Pending) >= 2,
            TimeSpan.FromSeconds(60), "node B to start the second fleet target");
        var takenOver = clock.Elapsed;
        var view = await Wait.UntilAsync(async () =>
        {
            var current = await clientB.GetFleetRunAsync(fleet, waitSeconds: 10);
            return FleetRunStates.IsTerminal(current.Properties!.ProvisioningState!) ? current : null;
        }, TimeSpan.FromMinutes(2), "the fleet run to finish on node B");
        var deployment = await Wait.UntilAsync(async () =>
        {
            var d = await clientB.GetDeploymentAsync(subscription, "takeover", "three");
            return d.Properties!.ProvisioningState is "Succeeded" or "Failed" or "Canceled" ? d : null;
        }, TimeSpan.FromMinutes(2), "the deployment to finish on node B");

        Assert.True(takenOver < TimeSpan.FromSeconds(30), $"node B took the fleet run over after {takenOver.TotalSeconds:0.0} s");
        Assert.Equal(FleetRunStates.Succeeded, view.Properties!.ProvisioningState);
        Assert.Equal(3, view.Properties.InstanceView!.Counts[ExecutionStates.Succeeded]);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(work, "fleet.count")).Length);
        Assert.Equal("Succeeded", deployment.Properties!.ProvisioningState);
        foreach (var step in new[] { "step1", "step2", "step3" })
        {
            Assert.Equal(["run"], File.ReadAllLines(Path.Combine(work, $"{step}.count")));
        }

        Assert.Contains("resumed", nodeB.Process.Output, StringComparison.Ordinal);
    }

    private RunCommandClient Client(ServerProcess node) => new(new RunCommandClientOptions { Server = new Uri(node.Url), Token = File.ReadAllText(Path.Combine(_scope.Dir, "server", "admin.token")).Trim() });
}
