using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>The state dir refuses writes (full or read-only): executions end with a clear report, never silently Pending or Running.</summary>
public sealed class StateDirFailureTests : IDisposable
{
    private readonly AgentFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task Reconcile_StateDirFullAtAccept_ReportsFailedAndNeverRunsIt()
    {
        var store = new RefusingStore(new FileExecutionStateStore(_fixture.ExecutionsRoot)) { RefuseAccept = true };
        var (manager, _) = _fixture.NewManager(store: store);
        var marker = Path.Combine(_fixture.Root, "ran");
        var assignment = AgentFixture.Assignment($"touch {marker}");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        // Space returns before the server took the Failed in: the same goal state must not start it now.
        store.RefuseAccept = false;
        manager.Reconcile(AgentFixture.Goal(assignment));
        await manager.WhenAllAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal(ExecutionManager.UnrecordableMessage("No space left on device"), final.Message);
        Assert.False(File.Exists(marker));
        Assert.False(Directory.Exists(_fixture.ExecutionDir(assignment.ExecutionId)), "the half-made directory is removed");
    }

    [Fact]
    public async Task Reconcile_StateDirFullWhileRunning_ReportsTrueOutcomeWithANote()
    {
        var store = new RefusingStore(new FileExecutionStateStore(_fixture.ExecutionsRoot));
        var (manager, _) = _fixture.NewManager(store: store);
        var go = Path.Combine(_fixture.Root, "go");
        var assignment = AgentFixture.Assignment($"echo started\n{Gate.WaitFor(go, 0.02)}\necho done\nexit 5\n");

        store.RefuseSave = true;
        manager.Reconcile(AgentFixture.Goal(assignment));
        await AgentFixture.WaitUntilAsync(() => _fixture.Server[assignment.ExecutionId].StdoutText == "started\n", "the script runs");
        await File.WriteAllTextAsync(go, "");
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal(5, final.ExitCode);
        Assert.Equal("Script exited with code 5; the agent could not save its state of this execution (No space left on device)", final.Message);
        Assert.Equal("started\ndone\n", _fixture.Server[assignment.ExecutionId].StdoutText);
    }

    /// <summary>The real file store, with writes failing as on a full disk when asked.</summary>
    private sealed class RefusingStore(IExecutionStateStore inner) : IExecutionStateStore
    {
        public volatile bool RefuseAccept;
        public volatile bool RefuseSave;

        public bool TryAccept(LocalExecutionRecord record)
        {
            if (RefuseAccept)
            {
                // As the file store fails on ENOSPC: its directory made, state.json not written.
                Directory.CreateDirectory(Path.Combine(((FileExecutionStateStore)inner).DirectoryOf(record.ExecutionId)));
                throw new IOException("No space left on device");
            }

            return inner.TryAccept(record);
        }

        public void Save(LocalExecutionRecord record)
        {
            if (RefuseSave)
            {
                throw new IOException("No space left on device");
            }

            inner.Save(record);
        }

        public LocalExecutionRecord? Get(string executionId) => inner.Get(executionId);

        public IReadOnlyList<string> ListIds() => inner.ListIds();
    }
}
