using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Tests;

/// <summary>
/// The agent polls again only once the executions a goal state started have had their first report answered
/// (<see cref="ExecutionManager.WhenFirstReportsSentAsync"/>), so those reports use the connection the answered poll
/// left free instead of a second one with its own TLS handshake.
/// </summary>
public sealed class FirstReportTests : IDisposable
{
    private readonly AgentFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task ShortScript_FirstReportsSettleOnlyOnceTheServerAnsweredIt()
    {
        var reporter = new HeldReporter(_fixture.Server);
        var (manager, _) = _fixture.NewManager(reporter);
        var assignment = AgentFixture.Assignment("echo hi");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var settled = manager.WhenFirstReportsSentAsync();
        await reporter.FirstCallArrived.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.False(settled.IsCompleted, "settled before the server answered the first report");
        reporter.Release();
        await settled.WaitAsync(TimeSpan.FromSeconds(20));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("hi\n", _fixture.Server[assignment.ExecutionId].StdoutText);
    }

    [Fact]
    public async Task LongScript_FirstReportsSettleWithItsRunningReport_WhileTheScriptStillRuns()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("sleep 30");

        manager.Reconcile(AgentFixture.Goal(assignment));
        await manager.WhenFirstReportsSentAsync().WaitAsync(TimeSpan.FromSeconds(20));

        var reports = _fixture.Server[assignment.ExecutionId].ReportsSnapshot;
        Assert.Equal([LocalState.Running], reports.Select(r => r.State).Distinct());
        Assert.False(_fixture.Server[assignment.ExecutionId].Terminal.Task.IsCompleted);
        manager.Reconcile(AgentFixture.Goal(assignment with { Cancel = true }));
        Assert.Equal(LocalState.Canceled, (await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync()).State);
    }

    [Fact]
    public async Task FirstReportFails_SettlesAnyway_AndTheFinalReportStillArrives()
    {
        var reporter = new FlakyReporter(_fixture.Server, failures: 1);
        var (manager, _) = _fixture.NewManager(reporter);
        var assignment = AgentFixture.Assignment("echo hi");

        manager.Reconcile(AgentFixture.Goal(assignment));
        await manager.WhenFirstReportsSentAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(reporter.Calls >= 1);
        Assert.Equal(LocalState.Succeeded, (await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync()).State);
    }

    [Fact]
    public async Task GoalStateWithNothingNew_IsSettledAtOnce()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("echo hi");
        manager.Reconcile(AgentFixture.Goal(assignment));
        await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        manager.Reconcile(AgentFixture.Goal());

        Assert.True(manager.WhenFirstReportsSentAsync().IsCompleted);
    }

    /// <summary>Holds every report until <see cref="Release"/>, like a server slow to answer, then passes them on.</summary>
    private sealed class HeldReporter(IExecutionReporter inner) : IExecutionReporter
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstCall = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task FirstCallArrived => _firstCall.Task;

        public void Release() => _release.TrySetResult();

        public async Task<ReportAck> ReportAsync(string executionId, ExecutionReport report, CancellationToken cancellationToken)
        {
            _firstCall.TrySetResult();
            await _release.Task.WaitAsync(cancellationToken);
            return await inner.ReportAsync(executionId, report, cancellationToken);
        }
    }
}
