using Microsoft.Extensions.Logging;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>The agent deletes the directories of reported executions once they are old or over the budget.</summary>
public sealed class RetentionTests : IDisposable
{
    private readonly AgentFixture _fixture = new();
    private readonly ManualTime _time = new(DateTimeOffset.UtcNow);

    public void Dispose() => _fixture.Dispose();

    private ExecutionManager NewManager(ExecutionSettings settings) =>
        new(_fixture.ExecutionsRoot, new FileExecutionStateStore(_fixture.ExecutionsRoot), _fixture.Server, settings, _time,
            new ConsoleLogger(TimeProvider.System, LogLevel.Debug, TextWriter.Null), CancellationToken.None);

    /// <summary>Runs scripts that each print about 100 KB, one after the other, and waits until all are reported.</summary>
    private async Task<List<string>> RunReportedAsync(ExecutionManager manager, int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var assignment = AgentFixture.Assignment("head -c 100000 /dev/zero");
            manager.Reconcile(AgentFixture.Goal(assignment));
            await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
            await manager.WhenAllAsync();
            ids.Add(assignment.ExecutionId);
            _time.Now += TimeSpan.FromMinutes(1);
        }

        var store = new FileExecutionStateStore(_fixture.ExecutionsRoot);
        Assert.All(ids, id => Assert.True(store.Get(id)!.Reported));
        return ids;
    }

    [Fact]
    public async Task Prune_ReportedExecutionsOlderThanTheRetention_AreDeleted()
    {
        var manager = NewManager(AgentFixture.FastSettings with { ExecutionRetention = TimeSpan.FromDays(30) });
        var ids = await RunReportedAsync(manager, 3);

        _time.Now += TimeSpan.FromDays(29);
        var early = manager.Prune();
        _time.Now += TimeSpan.FromDays(2);
        var due = manager.Prune();

        Assert.Equal(0, early.Executions);
        Assert.Equal(3, due.Executions);
        Assert.True(due.Bytes >= 3 * 100000);
        Assert.All(ids, id => Assert.False(Directory.Exists(_fixture.ExecutionDir(id))));
    }

    [Fact]
    public async Task Prune_OverTheBudget_DeletesTheOldestFirstAndNeverAnUnreportedOne()
    {
        var manager = NewManager(AgentFixture.FastSettings with { ExecutionBudgetBytes = 250000 });
        var go = Path.Combine(_fixture.Root, "go");
        var ids = await RunReportedAsync(manager, 4);
        var running = AgentFixture.Assignment($"head -c 100000 /dev/zero; {Gate.WaitFor(go)}");
        manager.Reconcile(AgentFixture.Goal(running));
        await AgentFixture.WaitUntilAsync(() => new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(running.ExecutionId)?.Pid is not null, "the last script runs");

        var pruned = manager.Prune();
        await File.WriteAllTextAsync(go, "");

        Assert.Equal(2, pruned.Executions);
        Assert.Equal([false, false, true, true], ids.Select(id => Directory.Exists(_fixture.ExecutionDir(id))));
        Assert.True(Directory.Exists(_fixture.ExecutionDir(running.ExecutionId)));
        await _fixture.Server[running.ExecutionId].WaitForTerminalAsync();
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
