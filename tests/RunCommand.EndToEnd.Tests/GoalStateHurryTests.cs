using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// A goal-state poll's assertion may wait for others to share the commit that records it (AgentAssertionReplay), which
/// suits an idle renewal; a poll with work to answer must not wait it out. The server here batches for 30 minutes, so
/// only a poll that hurries its commit answers: the agent's first poll (work may be waiting), its poll right after a
/// report (the next command may already be there), and a held poll woken by a new command.
/// </summary>
public sealed class GoalStateHurryTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private Stack _stack = null!;

    public async Task InitializeAsync() =>
        _stack = await Stack.StartAsync("hurry", serverArgs: ["--RunCommand:AgentAssertionBatchDelay", "00:30:00"]);

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task BackToBackCommands_AreEachDeliveredWithoutWaitingForTheAssertionBatch()
    {
        const string vm = "hurried";
        await _stack.StartAgentAsync(vm).WaitAsync(Patience);

        for (var i = 0; i < 3; i++)
        {
            var done = await _stack.RunAsync(_stack.Command(vm, $"run{i}"), Stack.Script($"echo {i}")).WaitAsync(Patience);
            Assert.Equal("Succeeded", done.Properties!.InstanceView!.ExecutionState);
            Assert.Equal($"{i}\n", done.Properties.InstanceView.Output);
        }

        // A poll held idle, then woken by a new command.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var woken = await _stack.RunAsync(_stack.Command(vm, "woken"), Stack.Script("echo woken")).WaitAsync(Patience);
        Assert.Equal("woken\n", woken.Properties!.InstanceView!.Output);
    }
}
