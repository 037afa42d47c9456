using System.Diagnostics;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Agent fail-over (issue 8 item 4): an agent given several nodes (<c>--server A,B</c>) moves to B when A dies, and
/// the script it runs meanwhile is reported once, with all of its output, through B.
/// </summary>
public sealed class FailoverTests
{
    [Fact]
    public async Task KillNode_WhileScriptRuns_AgentMovesToTheOtherNodeAndReportsEverythingOnce()
    {
        await using var scope = new TestScope("rc-failover-");
        var dir = scope.Dir;
        var data = Path.Combine(dir, "server");
        // Two nodes on one database (here one SQLite file: both processes on one host).
        await using var nodeA = await ServerProcess.StartAsync(data);
        await using var nodeB = await ServerProcess.StartAsync(data);
        await using var agent = await AgentProcess.StartAsync(nodeA, "movy", "e2e", Path.Combine(dir, "agent"), serverUrls: $"{nodeA.Url},{nodeB.Url}");
        using var clientA = Client(nodeA);
        using var clientB = Client(nodeB);
        var vm = new VmRef(nodeA.SubscriptionId, "e2e", "movy");
        var target = new RunCommandRef(nodeA.SubscriptionId, "e2e", "movy", "count");
        await Wait.UntilAsync(async () => (await clientA.GetVmAsync(vm)).Properties.AgentInstanceView.Status == "Connected",
            TimeSpan.FromSeconds(30), "the agent to connect to node A");
        var gate = Path.Combine(dir, "gate");
        var script = $"for i in $(seq 1 20); do echo line $i; done; {Gate.WaitFor(gate)}; "
            + "for i in $(seq 21 40); do echo line $i; done; echo oops >&2; exit 3";
        await clientA.CreateOrUpdateAsync(target, Stack.Script(script));
        await Wait.UntilAsync(async () => (await clientA.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!.Output?.Contains("line 20\n", StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(30), "the script's first lines to reach node A");

        await nodeA.Process.KillHardAsync();
        var clock = Stopwatch.StartNew();
        await Wait.UntilAsync(() => agent.Process.Output.Contains($"moving to {nodeB.Url}", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the agent to move to node B");
        var moved = clock.Elapsed;
        File.WriteAllText(gate, "");
        var view = await Wait.UntilAsync(async () =>
        {
            var instance = (await clientB.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
            return instance.ExecutionState is ExecutionStates.Failed ? instance : null;
        }, TimeSpan.FromSeconds(60), "the script's outcome to reach node B");

        Assert.True(moved < TimeSpan.FromSeconds(10), $"the agent moved after {moved.TotalSeconds:0.0} s");
        Assert.Equal(3, view.ExitCode);
        Assert.Equal(string.Concat(Enumerable.Range(1, 40).Select(i => $"line {i}\n")), view.Output);
        Assert.Equal("oops\n", view.Error);
        // Ran once: one execution directory, started once.
        Assert.Single(Directory.GetDirectories(Path.Combine(agent.StateDir, "executions")));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(agent.Process.Output, "started as process group"));
        Assert.Equal("Connected", (await clientB.GetVmAsync(vm)).Properties.AgentInstanceView.Status);
        Assert.False(agent.Process.HasExited);
    }

    private static RunCommandClient Client(ServerProcess server) => new(new RunCommandClientOptions
    {
        Server = new Uri(server.Url),
        Token = server.AdminToken,
    });
}
