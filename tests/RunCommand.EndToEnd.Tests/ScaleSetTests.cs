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
        using (var http = _stack.Server.CreateHttpClient())
        {
            var scaleSetJson = await http.GetStringAsync($"/subscriptions/{_stack.Server.SubscriptionId}/resourceGroups/e2e/providers/Microsoft.Compute/virtualMachineScaleSets/{scaleSet}?api-version=2024-07-01");
            Assert.Contains("\"instanceCount\":3", scaleSetJson, StringComparison.Ordinal);
        }

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

    [Fact]
    public async Task CliVmss_RunCommandOnInstance_CreatesShowsListsAndDeletes()
    {
        const string scaleSet = "cli-ss";
        var agent = await _stack.StartScaleSetAgentAsync(scaleSet, Path.Combine(_stack.Dir, "agents", scaleSet));
        var cli = new CliRunner(Path.Combine(_stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(_stack.Server);
        string[] instance = ["-g", "e2e", "--vmss-name", scaleSet, "--instance-id", agent.InstanceId];

        var instances = await cli.RunAsync("vmss", "list-instances", "-g", "e2e", "-n", scaleSet, "-o", "table");
        var created = await cli.RunAsync(["vmss", "run-command", "create", .. instance, "-n", "hi", "--script", "echo hi from the instance"]);
        var listed = await cli.RunAsync(["vmss", "run-command", "list", .. instance, "-o", "table"]);
        var invoked = await cli.RunAsync(["vmss", "run-command", "invoke", .. instance, "--command-id", "RunShellScript", "--scripts", "echo invoked"]);
        var deleted = await cli.RunAsync(["vmss", "run-command", "delete", .. instance, "-n", "hi", "--yes"]);

        Assert.True(instances.ExitCode == 0, instances.Stderr);
        Assert.Contains("Connected", instances.Stdout, StringComparison.Ordinal);
        Assert.True(created.ExitCode == 0, created.Stdout + created.Stderr);
        Assert.Contains("\"output\": \"hi from the instance\\n\"", created.Stdout, StringComparison.Ordinal);
        Assert.Contains(ResourceTypes.VmssVmRunCommand, created.Stdout, StringComparison.Ordinal);
        Assert.Contains("hi", listed.Stdout, StringComparison.Ordinal);
        Assert.True(invoked.ExitCode == 0, invoked.Stdout + invoked.Stderr);
        Assert.Contains("invoked", invoked.Stdout, StringComparison.Ordinal);
        Assert.True(deleted.ExitCode == 0, deleted.Stdout + deleted.Stderr);
        Assert.Empty(await _stack.Client.ListAsync(VmRef.Instance(_stack.Server.SubscriptionId, "e2e", scaleSet, agent.InstanceId)));

        var fleet = await cli.RunAsync("fleet", "run-command", "create", "-g", "e2e", "-n", "ss-fleet", "--target-vmss", scaleSet, "--script", "echo fleet on the instance");

        Assert.True(fleet.ExitCode == 0, fleet.Stdout + fleet.Stderr);
        Assert.Contains($"=== {scaleSet}/{agent.InstanceId} (Succeeded, exit code 0) ===\nfleet on the instance\n", fleet.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_BadInstanceIdAndBadRunCommandName_AnswersBothErrorsAtOnce()
    {
        using var http = _stack.Server.CreateHttpClient();

        var response = await http.GetAsync($"/subscriptions/{_stack.Server.SubscriptionId}/resourceGroups/e2e/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/abc/runCommands/bad%20name!?api-version=2024-07-01");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"target\":\"instanceId\"", body, StringComparison.Ordinal);
        Assert.Contains("runCommandName", body, StringComparison.Ordinal);
    }
}
