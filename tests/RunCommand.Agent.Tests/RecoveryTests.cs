using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>The agent dies (its manager is dropped) while scripts run; a new one over the same state dir takes over.</summary>
public sealed class RecoveryTests : IDisposable
{
    private readonly AgentFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private string Counter => Path.Combine(_fixture.Root, "counter");

    private string Go => Path.Combine(_fixture.Root, "go");

    private string ScriptThatWaitsForGo(int exitCode) =>
        $"echo run >> {Counter}\necho hello\n{Gate.WaitFor(Go, 0.02)}\necho bye\necho oops >&2\nexit {exitCode}\n";

    /// <summary>Starts an execution in a first agent and kills that agent (not the script) once the script runs.</summary>
    private async Task<RunCommand.Contracts.Agents.ExecutionAssignment> StartThenDropAgentAsync(string script, int timeoutInSeconds = 0)
    {
        var (first, shutdown) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment(script) with { TimeoutInSeconds = timeoutInSeconds };
        first.Reconcile(AgentFixture.Goal(assignment));
        await AgentFixture.WaitUntilAsync(() => _fixture.Server[assignment.ExecutionId].StdoutText.StartsWith("hello", StringComparison.Ordinal), "the script runs");
        await shutdown.CancelAsync();
        await first.WhenAllAsync();
        return assignment;
    }

    [Fact]
    public async Task Recover_ScriptStillRunning_ReattachesReportsTrueOutcomeAndNeverReruns()
    {
        var assignment = await StartThenDropAgentAsync(ScriptThatWaitsForGo(4));
        var afterRestart = new FakeServer();
        var (second, _) = _fixture.NewManager(afterRestart);

        second.Recover();
        Assert.Contains(assignment.ExecutionId, second.ActiveExecutionIds);
        second.Reconcile(AgentFixture.Goal(assignment));
        await File.WriteAllTextAsync(Go, "");
        var final = await afterRestart[assignment.ExecutionId].WaitForTerminalAsync();
        await second.WhenAllAsync();
        second.Reconcile(AgentFixture.Goal(assignment));
        await second.WhenAllAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal(4, final.ExitCode);
        Assert.Equal("hello\nbye\n", afterRestart[assignment.ExecutionId].StdoutText);
        Assert.Equal("oops\n", afterRestart[assignment.ExecutionId].StderrText);
        Assert.Equal(["run"], await File.ReadAllLinesAsync(Counter));
    }

    [Fact]
    public async Task Recover_ScriptEndedWhileAgentDown_ReportsExitCodeAndFullOutput()
    {
        var assignment = await StartThenDropAgentAsync(ScriptThatWaitsForGo(0));
        await File.WriteAllTextAsync(Go, "");
        await AgentFixture.WaitUntilAsync(() => File.Exists(Path.Combine(_fixture.ExecutionDir(assignment.ExecutionId), "exitcode")), "the script ends");
        var afterRestart = new FakeServer();
        var (second, _) = _fixture.NewManager(afterRestart);

        second.Recover();
        var final = await afterRestart[assignment.ExecutionId].WaitForTerminalAsync();
        await second.WhenAllAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal(0, final.ExitCode);
        Assert.Equal("hello\nbye\n", afterRestart[assignment.ExecutionId].StdoutText);
        Assert.True(new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!.Reported);
        Assert.Equal(["run"], await File.ReadAllLinesAsync(Counter));
    }

    [Fact]
    public async Task Recover_EndedButNeverReported_SendsFinalReportWithFullOutput()
    {
        var unreachable = new FlakyReporter(_fixture.Server, int.MaxValue);
        var (first, shutdown) = _fixture.NewManager(unreachable);
        var assignment = AgentFixture.Assignment("echo out\nexit 2");
        first.Reconcile(AgentFixture.Goal(assignment));
        var store = new FileExecutionStateStore(_fixture.ExecutionsRoot);
        await AgentFixture.WaitUntilAsync(() => store.Get(assignment.ExecutionId)?.IsTerminal == true, "the outcome is saved");
        await shutdown.CancelAsync();
        await first.WhenAllAsync();
        Assert.False(store.Get(assignment.ExecutionId)!.Reported);
        var (second, _) = _fixture.NewManager();

        second.Recover();
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        await second.WhenAllAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal(2, final.ExitCode);
        Assert.Equal("out\n", _fixture.Server[assignment.ExecutionId].StdoutText);
        Assert.True(store.Get(assignment.ExecutionId)!.Reported);
    }

    [Fact]
    public async Task Reconcile_ServerUnreachableForAWhile_FinalReportArrivesAfterRetries()
    {
        var flaky = new FlakyReporter(_fixture.Server, 4);
        var (manager, _) = _fixture.NewManager(flaky);
        var assignment = AgentFixture.Assignment("echo out");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("out\n", _fixture.Server[assignment.ExecutionId].StdoutText);
        Assert.True(flaky.Calls > 4);
    }

    [Fact]
    public async Task Recover_ReportedExecution_IsNotReportedAgain()
    {
        var (first, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("echo done");
        first.Reconcile(AgentFixture.Goal(assignment));
        await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        await first.WhenAllAsync();
        var afterRestart = new FakeServer();
        var (second, _) = _fixture.NewManager(afterRestart);

        second.Recover();
        await second.WhenAllAsync();

        Assert.Empty(afterRestart[assignment.ExecutionId].ReportsSnapshot);
    }

    [Fact]
    public async Task Recover_AcceptedButNeverSpawned_ReportsFailedAndNeverRuns()
    {
        var store = new FileExecutionStateStore(_fixture.ExecutionsRoot);
        var id = Guid.NewGuid().ToString("N");
        Assert.True(store.TryAccept(new LocalExecutionRecord { ExecutionId = id, RunCommandName = "x", State = LocalState.Accepted, AcceptedAt = DateTimeOffset.UtcNow }));
        var (manager, _) = _fixture.NewManager();

        manager.Recover();
        var final = await _fixture.Server[id].WaitForTerminalAsync();
        manager.Reconcile(AgentFixture.Goal(AgentFixture.Assignment($"echo run >> {Counter}", id)));
        await manager.WhenAllAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal(ExecutionManager.NeverSpawned, final.Message);
        Assert.False(File.Exists(Counter));
    }

    [Fact]
    public async Task Recover_DirectoryWithoutStateFile_ReportsFailed()
    {
        var id = Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(Path.Combine(_fixture.ExecutionsRoot, id));
        var (manager, _) = _fixture.NewManager();

        manager.Recover();
        var final = await _fixture.Server[id].WaitForTerminalAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal(ExecutionManager.NeverSpawned, final.Message);
    }

    [Fact]
    public async Task Recover_ProcessGoneWithoutExitCode_ReportsFailedWithReason()
    {
        var assignment = await StartThenDropAgentAsync(ScriptThatWaitsForGo(0));
        var pid = new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!.Pid!.Value;
        // Like a reboot: the whole group dies and the wrapper never writes an exit code.
        Assert.Equal(0, Posix.Kill(-pid, Posix.SigKill));
        await AgentFixture.WaitUntilAsync(() => !Posix.IsGroupAlive(pid), "the group is gone");
        var afterRestart = new FakeServer();
        var (second, _) = _fixture.NewManager(afterRestart);

        second.Recover();
        var final = await afterRestart[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Null(final.ExitCode);
        Assert.Equal(ExecutionManager.EndedWithoutExitCode, final.Message);
        Assert.Equal("hello\n", afterRestart[assignment.ExecutionId].StdoutText);
    }

    [Fact]
    public async Task Recover_ReattachedScript_StillTimesOutAtRecordedDeadline()
    {
        var assignment = await StartThenDropAgentAsync("echo hello\nsleep 600 &\nsleep 600\n", timeoutInSeconds: 2);
        var afterRestart = new FakeServer();
        var (second, _) = _fixture.NewManager(afterRestart);
        var pid = new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!.Pid!.Value;

        second.Recover();
        var final = await afterRestart[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.TimedOut, final.State);
        Assert.False(Posix.IsGroupAlive(pid));
    }

    [Fact]
    public async Task Recover_ReattachedScript_CanBeCanceled()
    {
        var assignment = await StartThenDropAgentAsync("echo hello\nsleep 600\n");
        var afterRestart = new FakeServer();
        var (second, _) = _fixture.NewManager(afterRestart);
        var pid = new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!.Pid!.Value;

        second.Recover();
        second.Reconcile(AgentFixture.Goal(assignment with { Cancel = true }));
        var final = await afterRestart[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Canceled, final.State);
        Assert.False(Posix.IsGroupAlive(pid));
    }
}
