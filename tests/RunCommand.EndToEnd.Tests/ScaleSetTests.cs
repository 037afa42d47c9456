using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>Agents enrolled as scale-set instances, and run commands addressed to one instance.</summary>
public sealed class ScaleSetTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    [Fact]
    public async Task Enroll_ThreeAgentsInOneScaleSet_GetDistinctInstanceIdsAndRunCommandOnInstanceOneRunsThereOnly()
    {
        const string scaleSet = "web-ss";
        var agents = await Task.WhenAll(Enumerable.Range(0, 3).Select(i =>
            _stack.StartScaleSetAgentAsync(scaleSet, Path.Combine(_stack.Dir, "agents", $"{scaleSet}-{i}"))));

        Assert.Equal(["0", "1", "2"], agents.Select(a => a.InstanceId).Order(StringComparer.Ordinal));
        var instances = await _stack.Client.ListInstancesAsync(_stack.Server.SubscriptionId, "e2e", scaleSet);
        Assert.Equal(["0", "1", "2"], instances.Select(i => i.InstanceId));
        Assert.All(instances, i => Assert.Equal(ResourceTypes.VmssVirtualMachine, i.Type));
        Assert.All(instances, i => Assert.Equal("Connected", i.Properties.AgentInstanceView.Status));

        var target = new RunCommandRef(_stack.Server.SubscriptionId, "e2e", "1", "where", scaleSet);
        var result = await _stack.RunAsync(target, Stack.Script("pwd"));

        Assert.Equal(ResourceTypes.VmssVmRunCommand, result.Type);
        Assert.EndsWith($"/virtualMachineScaleSets/{scaleSet}/virtualMachines/1/runCommands/where", result.Id, StringComparison.Ordinal);
        Assert.Equal(ExecutionStates.Succeeded, result.Properties!.InstanceView!.ExecutionState);
        var one = agents.Single(a => a.InstanceId == "1");
        Assert.StartsWith(Path.GetFullPath(one.StateDir) + "/", result.Properties.InstanceView.Output, StringComparison.Ordinal);
        foreach (var other in agents.Where(a => a.InstanceId != "1"))
        {
            var executions = Path.Combine(other.StateDir, "executions");
            Assert.True(!Directory.Exists(executions) || !Directory.EnumerateFileSystemEntries(executions).Any(),
                $"instance {other.InstanceId} ran something");
        }

        var list = await _stack.Client.ListAsync(target.Vm);
        Assert.Equal(["where"], list.Select(r => r.Name));
        Assert.Empty(await _stack.Client.ListAsync(target.Vm with { VmName = "0" }));
    }

    [Fact]
    public async Task Enroll_AgentRestarts_KeepsItsInstanceId()
    {
        const string scaleSet = "restart-ss";
        var stateDir = Path.Combine(_stack.Dir, "agents", scaleSet);
        var first = await _stack.StartScaleSetAgentAsync(scaleSet, stateDir);
        var id = first.InstanceId;
        await first.Process.StopAsync();

        var again = await _stack.StartScaleSetAgentAsync(scaleSet, stateDir);

        Assert.Equal(id, again.InstanceId);
        Assert.Single(await _stack.Client.ListInstancesAsync(_stack.Server.SubscriptionId, "e2e", scaleSet));
    }
}
