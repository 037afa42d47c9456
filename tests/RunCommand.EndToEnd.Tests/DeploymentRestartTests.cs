using System.Text.Json;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>A server killed in the middle of a deployment continues it after restart, from the store.</summary>
public sealed class DeploymentRestartTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "runcmd-deprestart-" + Guid.NewGuid().ToString("N"));
    private readonly List<IAsyncDisposable> _processes = [];

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static RunCommandClient ClientOf(ServerProcess server) =>
        new(new RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken });

    [Fact]
    public async Task KillServer_WhileFirstCommandRuns_RestartedServerFinishesDeploymentWithoutRerunning()
    {
        var port = ServerProcess.FreePort();
        var dataDir = Path.Combine(_dir, "server");
        var server = await ServerProcess.StartAsync(dataDir, port: port);
        _processes.Add(server);
        var agent = await AgentProcess.StartAsync(server, "restartvm", "e2e", Path.Combine(_dir, "agent"));
        _processes.Add(agent);
        var gate = Path.Combine(_dir, "gate");
        var runs = Path.Combine(_dir, "runs");
        var template = JsonDocument.Parse("""
            {"parameters":{"vm":{"type":"string"}},
             "resources":[
               {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"[concat(parameters('vm'),'/first')]","location":"local",
                "properties":{"source":{"script":"echo run >> 'RUNS'; WAIT_FOR_GATE; echo first"}}},
               {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"[concat(parameters('vm'),'/second')]","location":"local",
                "dependsOn":["[resourceId('Microsoft.Compute/virtualMachines/runCommands', parameters('vm'), 'first')]"],
                "properties":{"source":{"script":"echo second"}}}]}
            """.Replace("RUNS", runs, StringComparison.Ordinal).Replace("WAIT_FOR_GATE", Gate.WaitFor(gate), StringComparison.Ordinal)).RootElement.Clone();
        var parameters = JsonDocument.Parse("""{"vm":{"value":"restartvm"}}""").RootElement.Clone();
        string subscription;
        using (var client = ClientOf(server))
        {
            subscription = server.SubscriptionId;
            await client.CreateDeploymentAsync(subscription, "e2e", "resume", template, parameters);
            await DeploymentTests.WaitForRunningAsync(client, new RunCommandRef(subscription, "e2e", "restartvm", "first"));
        }

        await server.Process.KillHardAsync();
        var restarted = await ServerProcess.StartAsync(dataDir, port: port);
        _processes.Add(restarted);
        await File.WriteAllTextAsync(gate, "");

        using var again = ClientOf(restarted);
        var deployment = await Wait.UntilAsync(async () =>
        {
            var d = await again.GetDeploymentAsync(subscription, "e2e", "resume");
            return d.Properties!.ProvisioningState is "Succeeded" or "Failed" or "Canceled" ? d : null;
        }, TimeSpan.FromSeconds(60), "the deployment to finish after the restart");

        Assert.Equal("Succeeded", deployment.Properties!.ProvisioningState);
        Assert.Equal("run\n", await File.ReadAllTextAsync(runs));
        var first = (await again.GetAsync(new RunCommandRef(subscription, "e2e", "restartvm", "first"), expandInstanceView: true)).Properties!.InstanceView!;
        var second = (await again.GetAsync(new RunCommandRef(subscription, "e2e", "restartvm", "second"), expandInstanceView: true)).Properties!.InstanceView!;
        Assert.Equal("second\n", second.Output);
        Assert.True(second.StartTime >= first.EndTime);
    }
}
