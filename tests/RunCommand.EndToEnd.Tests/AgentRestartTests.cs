using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>Scripts survive the agent: kill -9, restart, offline periods. Nothing is lost, nothing runs twice.</summary>
public sealed class AgentRestartTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    [Fact]
    public async Task KillAgent_WhileThreeScriptsRun_RestartedAgentReportsTrueOutcomesAndNothingRunsTwice()
    {
        const string vm = "crashy";
        var stateDir = Path.Combine(_stack.Dir, "agents", vm);
        var agent = await _stack.StartAgentAsync(vm, stateDir);
        var work = Path.Combine(_stack.Dir, "work-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        var gate = Path.Combine(work, "gate");
        // "short" ends while the agent is down: it waits for a gate file the test creates after the kill.
        var scripts = new Dictionary<string, string>
        {
            ["short"] = $"echo run >> {work}/short.count; echo short-start; {Gate.WaitFor(gate)}; echo short-end",
            ["long"] = $"echo run >> {work}/long.count; echo long-start; {Gate.WaitFor(gate)}; sleep 2; echo long-end",
            ["failing"] = $"echo run >> {work}/failing.count; echo failing-start; {Gate.WaitFor(gate)}; sleep 2; echo bad >&2; exit 4",
        };
        var operations = new Dictionary<string, Uri>();
        foreach (var (name, script) in scripts)
        {
            operations[name] = await _stack.StartAsync(_stack.Command(vm, name), Stack.Script(script));
        }

        foreach (var name in scripts.Keys)
        {
            await _stack.WaitForStateAsync(_stack.Command(vm, name), v => v.ExecutionState == ExecutionStates.Running && v.Output == $"{name}-start\n",
                TimeSpan.FromSeconds(20), $"{name} to run and print its first line");
        }

        await agent.Process.KillHardAsync();
        File.WriteAllText(gate, "");
        // The short script ends while no agent is there: its wrapper records the exit code on its own.
        await Wait.UntilAsync(() => Directory.EnumerateFiles(Path.Combine(stateDir, "executions"), "exitcode", SearchOption.AllDirectories).Any(),
            TimeSpan.FromSeconds(20), "the short script to end while the agent is down");
        Assert.Equal(ExecutionStates.Running, (await _stack.Client.GetAsync(_stack.Command(vm, "short"), expandInstanceView: true)).Properties!.InstanceView!.ExecutionState);

        await _stack.StartAgentAsync(vm, stateDir);
        foreach (var operation in operations.Values)
        {
            await _stack.Client.WaitForOperationAsync(operation);
        }

        var views = new Dictionary<string, RunCommandInstanceView>();
        foreach (var name in scripts.Keys)
        {
            views[name] = (await _stack.Client.GetAsync(_stack.Command(vm, name), expandInstanceView: true)).Properties!.InstanceView!;
            Assert.Equal(["run"], File.ReadAllLines(Path.Combine(work, $"{name}.count")));
        }

        Assert.Equal(ExecutionStates.Succeeded, views["short"].ExecutionState);
        Assert.Equal("short-start\nshort-end\n", views["short"].Output);
        Assert.Equal(ExecutionStates.Succeeded, views["long"].ExecutionState);
        Assert.Equal("long-start\nlong-end\n", views["long"].Output);
        Assert.Equal(ExecutionStates.Failed, views["failing"].ExecutionState);
        Assert.Equal(4, views["failing"].ExitCode);
        Assert.Equal("failing-start\n", views["failing"].Output);
        Assert.Equal("bad\n", views["failing"].Error);
    }

    [Fact]
    public async Task Create_WhileAgentOffline_WaitsPendingAndRunsWhenItReturns()
    {
        const string vm = "offline";
        var stateDir = Path.Combine(_stack.Dir, "agents", vm);
        var agent = await _stack.StartAgentAsync(vm, stateDir);
        await agent.Process.StopAsync();
        var target = _stack.Command(vm, "later");

        var operation = await _stack.StartAsync(target, Stack.Script("echo ran"));
        var pending = (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!;

        Assert.Equal(ExecutionStates.Pending, pending.InstanceView!.ExecutionState);
        Assert.Equal("Creating", pending.ProvisioningState);

        await _stack.StartAgentAsync(vm, stateDir);
        var done = await _stack.Client.WaitForOperationAsync(operation);
        Assert.Equal(OperationStatus.Succeeded, done.Status);
        Assert.Equal("ran\n", (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!.Output);
    }

    [Fact]
    public async Task VmList_AgentGone_ShowsDisconnectedWithLastContact()
    {
        const string vm = "gone";
        var agent = await _stack.StartAgentAsync(vm);

        await agent.Process.KillHardAsync();

        // The poll the agent held ends with its connection; from then on only the last contact counts.
        VirtualMachineResource shown;
        try
        {
            shown = await Wait.UntilAsync(async () =>
            {
                var v = await _stack.Client.GetVmAsync(_stack.Vm(vm));
                return v.Properties.AgentInstanceView.Status == "Connected" ? null : v;
            }, TimeSpan.FromSeconds(40), "the VM to show its agent as not connected");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\nThe server's output:\n{_stack.Server.Process.Output}\nThe agent's output:\n{agent.Process.Output}", e);
        }

        Assert.Equal("Disconnected", shown.Properties.AgentInstanceView.Status);
        Assert.NotNull(shown.Properties.AgentInstanceView.LastContact);
    }
}
