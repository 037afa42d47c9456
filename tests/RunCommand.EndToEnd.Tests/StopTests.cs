using System.Diagnostics;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Stopping is quick (issue 10): a stopping server ends its long polls at once instead of holding them for up to a
/// minute, and the agent leaves its scripts running and exits. The bound here is generous (a loaded machine);
/// docs/scale-out.md gives the figures measured on an idle one.
/// </summary>
public sealed class StopTests
{
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Server_SigtermWithAgentPollingAndClientWaiting_ExitsWithinSecondsAndAgentStaysUp()
    {
        await using var stack = await Stack.StartAsync("stop-server");
        var agent = await stack.StartAgentAsync("stopsrv");
        var target = stack.Command("stopsrv", "slow");
        await stack.StartAsync(target, Stack.Script("echo started; sleep 60"));
        await stack.WaitForStateAsync(target, v => v.ExecutionState == ExecutionStates.Running && v.Output == "started\n",
            TimeSpan.FromSeconds(30), "the script to run");
        // A client waiting for more output; the agent's goal-state poll is waiting as well.
        var follow = stack.Client.GetLogsAsync(target, "started\n".Length, 0, waitSeconds: 50);

        var clock = Stopwatch.StartNew();
        await stack.Server.Process.StopAsync(TimeSpan.FromSeconds(30));
        var stopped = clock.Elapsed;

        Assert.True(stopped < StopBound, $"the server took {stopped.TotalSeconds:0.0} s to stop");
        Assert.Equal(0, await stack.Server.Process.WaitForExitAsync(TimeSpan.FromSeconds(1)));
        // The waiting client got its answer (or, had its call not reached the server yet, a refused connection) at once.
        await Task.WhenAny(follow, Task.Delay(StopBound));
        Assert.True(follow.IsCompleted, "the logs wait still hangs after the server stopped");
        if (follow.IsCompletedSuccessfully)
        {
            Assert.False((await follow).Finished);
        }

        // The agent was told to go elsewhere (503) or found the node gone; it keeps trying instead of exiting.
        Assert.False(agent.Process.HasExited, agent.Process.Output);
    }

    [Fact]
    public async Task Agent_SigtermWhileScriptRuns_ExitsWithinSecondsLeavingTheScriptRunning()
    {
        await using var stack = await Stack.StartAsync("stop-agent");
        var agent = await stack.StartAgentAsync("stopagent");
        var target = stack.Command("stopagent", "slow");
        await stack.StartAsync(target, Stack.Script("echo started; sleep 60"));
        await stack.WaitForStateAsync(target, v => v.ExecutionState == ExecutionStates.Running && v.Output == "started\n",
            TimeSpan.FromSeconds(30), "the script to run");

        var clock = Stopwatch.StartNew();
        await agent.Process.StopAsync(TimeSpan.FromSeconds(30));
        var stopped = clock.Elapsed;

        Assert.True(stopped < StopBound, $"the agent took {stopped.TotalSeconds:0.0} s to stop");
        Assert.Equal(0, await agent.Process.WaitForExitAsync(TimeSpan.FromSeconds(1)));
        var state = await File.ReadAllTextAsync(Directory.GetFiles(Path.Combine(agent.StateDir, "executions"), "state.json", SearchOption.AllDirectories).Single());
        var pid = int.Parse(System.Text.RegularExpressions.Regex.Match(state, "\"pid\":\\s*(\\d+)").Groups[1].Value);
        Assert.True(Processes.IsAlive(pid), "the script did not survive the agent's stop");
        Processes.KillGroup(pid);
    }
}
