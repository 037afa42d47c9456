namespace RunCommand.Storage.Tests;

/// <summary>
/// Retention on any backend: a deleted run command's executions and output go (and its agent is told to forget
/// them), old and over-budget output is pruned, running executions are never touched, and the disk space comes back.
/// </summary>
public abstract class RetentionContract<TBackends> : StoreContract<TBackends>
    where TBackends : IBackendFactory, new()
{
    private const int OutputBytes = 1024 * 1024;
    private static readonly RetentionPolicy Default = new(TimeSpan.FromDays(30), long.MaxValue);
    private readonly VmKey _vm = new("00000000-0000-0000-0000-000000000001", "Group", "Vm1");

    private IRetentionStore Retention => Storage.Retention;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Machines.EnrollAgentAsync(_vm, "local", new AgentCredential([1, 2, 3], null), "host", "1.0", null, Now, default);
    }

    private async Task<string> StartAsync(string name, DateTimeOffset at)
    {
        var write = new RunCommandWrite
        {
            Command = new RunCommandKey(_vm, name), Location = "local", Spec = new RunCommandSpec { Script = "x" }, Fingerprint = name, MaxRunCommandsPerVm = 1000,
        };
        var outcome = await RunCommands.PutRunCommandAsync(write, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), at, default);
        await AgentWork.LeaseGoalStateAsync(_vm, default);
        return outcome.Record!.Execution.ExecutionId;
    }

    /// <summary>A run command whose execution ended at <paramref name="endedAt"/> with 1 MiB of (incompressible) output.</summary>
    private async Task<string> FinishedAsync(string name, DateTimeOffset endedAt)
    {
        var id = await StartAsync(name, endedAt);
        await EndWithOutputAsync(id, ExecutionState.Succeeded, endedAt);
        return id;
    }

    private async Task EndWithOutputAsync(string executionId, ExecutionState state, DateTimeOffset endedAt)
    {
        var data = new byte[OutputBytes];
        Random.Shared.NextBytes(data);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite
        {
            ExecutionId = executionId, State = state, ExitCode = 0, StartTime = endedAt, EndTime = endedAt, StdoutOffset = 0, StdoutData = data,
        }, endedAt, default);
    }

    private async Task<int> OutputLengthAsync(string executionId) =>
        (await RunCommands.ReadOutputAsync(executionId, OutputStream.Stdout, 0, OutputBytes, default)).Length;

    [Fact]
    public async Task DeleteRunCommand_Finished_RemovesItsExecutionsAndOutput_AndTheSpaceComesBack()
    {
        var ids = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            ids.Add(await FinishedAsync($"c{i}", Now));
        }

        var full = await Backends.StoredBytesAsync(Storage);
        for (var i = 0; i < 10; i++)
        {
            await RunCommands.DeleteRunCommandAsync(new RunCommandKey(_vm, $"c{i}"), Guid.NewGuid().ToString(), Now, default);
        }

        var after = await Backends.StoredBytesAsync(Storage);

        Assert.True(full >= 10L * OutputBytes, $"the database held {full} bytes");
        Assert.True(after < full / 5, $"after deleting every run command the database still holds {after} of {full} bytes");
        foreach (var id in ids)
        {
            Assert.Null(await RunCommands.GetExecutionAsync(id, default));
            Assert.Equal(0, await OutputLengthAsync(id));
        }

        Assert.Equal(ids.Order(), (await AgentWork.ListForgottenExecutionsAsync(_vm, default)).Order());
    }

    [Fact]
    public async Task DeleteRunCommand_AnEarlierExecutionStillStopping_IsKeptUntilItEnds()
    {
        var first = await StartAsync("a", Now);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = first, State = ExecutionState.Running, StartTime = Now }, Now, default);
        var write = new RunCommandWrite { Command = new RunCommandKey(_vm, "a"), Location = "local", Spec = new RunCommandSpec { Script = "y" }, Fingerprint = "2", MaxRunCommandsPerVm = 10 };
        var second = (await RunCommands.PutRunCommandAsync(write, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Now, default)).Record!.Execution.ExecutionId;

        await RunCommands.DeleteRunCommandAsync(write.Command, "del", Now, default);

        Assert.Null(await RunCommands.GetExecutionAsync(second, default));
        Assert.Equal(ExecutionState.Running, (await RunCommands.GetExecutionAsync(first, default))!.State);
        Assert.Empty(await AgentWork.ListForgottenExecutionsAsync(_vm, default));
    }

    [Fact]
    public async Task DeleteRunCommand_ItsOperationsStayForPollsUntilOlderThanTheRetentionAge()
    {
        // A client may still be polling the PUT's operation when the command is deleted: it must get an answer.
        async Task<(string Put, string Delete)> PutAndDeleteAsync(string name, DateTimeOffset at)
        {
            var put = Guid.NewGuid().ToString();
            var write = new RunCommandWrite { Command = new RunCommandKey(_vm, name), Location = "local", Spec = new RunCommandSpec { Script = "x" }, Fingerprint = name, MaxRunCommandsPerVm = 10 };
            await RunCommands.PutRunCommandAsync(write, Guid.NewGuid().ToString(), put, at, default);
            var delete = Guid.NewGuid().ToString();
            await RunCommands.DeleteRunCommandAsync(write.Command, delete, at, default);
            return (put, delete);
        }

        var old = await PutAndDeleteAsync("old", Now - TimeSpan.FromDays(40));
        var recent = await PutAndDeleteAsync("recent", Now);
        var kept = await StartAsync("kept", Now - TimeSpan.FromDays(40));
        var keptOperation = (await RunCommands.GetRunCommandAsync(new RunCommandKey(_vm, "kept"), default))!.OperationId;

        Assert.NotNull(await RunCommands.GetOperationAsync(old.Put, default));
        Assert.NotNull(await RunCommands.GetOperationAsync(recent.Put, default));

        await Retention.PruneAsync(Default, Now, default);

        Assert.Null(await RunCommands.GetOperationAsync(old.Put, default));
        Assert.Null(await RunCommands.GetOperationAsync(old.Delete, default));
        Assert.NotNull(await RunCommands.GetOperationAsync(recent.Put, default));
        Assert.NotNull(await RunCommands.GetOperationAsync(recent.Delete, default));
        // An old operation whose execution is still kept (a pending run, its command still there) stays.
        Assert.NotNull(await RunCommands.GetExecutionAsync(kept, default));
        Assert.NotNull(await RunCommands.GetOperationAsync(keptOperation, default));
    }

    [Fact]
    public async Task AcknowledgeForgotten_TakesTheExecutionOffTheAgentsList()
    {
        var id = await FinishedAsync("a", Now);
        await RunCommands.DeleteRunCommandAsync(new RunCommandKey(_vm, "a"), "del", Now, default);

        Assert.True(await AgentWork.AcknowledgeForgottenAsync(_vm, id, default));
        Assert.False(await AgentWork.AcknowledgeForgottenAsync(_vm, id, default));
        Assert.Empty(await AgentWork.ListForgottenExecutionsAsync(_vm, default));
    }

    [Fact]
    public async Task Prune_EndedBeforeTheCutoff_RemovesTheirOutputAndKeepsNewerOnes()
    {
        var old = await FinishedAsync("old", Now.AddDays(-40));
        var recent = await FinishedAsync("recent", Now.AddDays(-1));
        var action = await ActionRunAsync("act", Now.AddDays(-40));
        var before = await Backends.StoredBytesAsync(Storage);

        var outcome = await Retention.PruneAsync(Default, Now, default);
        var after = await Backends.StoredBytesAsync(Storage);

        Assert.Equal(new PruneOutcome(1, 2L * OutputBytes), outcome);
        Assert.Equal(0, await OutputLengthAsync(old));
        Assert.Equal(OutputBytes, await OutputLengthAsync(recent));

        // The run command still shows its last execution (only the output went); the action run's record went with it.
        Assert.Equal(ExecutionState.Succeeded, (await RunCommands.GetRunCommandAsync(new RunCommandKey(_vm, "old"), default))!.Execution.State);
        Assert.Null(await RunCommands.GetExecutionAsync(action, default));
        Assert.True(before - after > OutputBytes, $"the database went from {before} to {after} bytes");
        Assert.Equal(PruneOutcome.None, await Retention.PruneAsync(Default, Now, default));
    }

    private async Task<string> ActionRunAsync(string name, DateTimeOffset endedAt)
    {
        var id = Guid.NewGuid().ToString();
        await RunCommands.StartActionRunAsync(new ActionRunWrite { Vm = _vm, RunCommandName = name, Spec = new RunCommandSpec { Script = "x" } }, id, Guid.NewGuid().ToString(), endedAt, default);
        await AgentWork.LeaseGoalStateAsync(_vm, default);
        await EndWithOutputAsync(id, ExecutionState.Failed, endedAt);
        return id;
    }

    [Fact]
    public async Task Prune_OverTheBudget_RemovesTheOldestOutputFirstUntilWithin()
    {
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await FinishedAsync($"b{i}", Now.AddHours(-10 + i)));
        }

        var outcome = await Retention.PruneAsync(Default with { MaxOutputBytes = 2L * OutputBytes }, Now, default);

        Assert.Equal(new PruneOutcome(0, 3L * OutputBytes), outcome);
        var kept = new List<int>();
        foreach (var id in ids)
        {
            kept.Add(await OutputLengthAsync(id));
        }

        Assert.Equal([0, 0, 0, OutputBytes, OutputBytes], kept);
    }

    [Fact]
    public async Task Prune_RunningExecution_IsNeverTouched()
    {
        var id = await StartAsync("live", Now.AddDays(-90));
        await AgentWork.RecordReportAsync(_vm, new ReportWrite
        {
            ExecutionId = id, State = ExecutionState.Running, StartTime = Now.AddDays(-90), StdoutOffset = 0, StdoutData = new byte[1000],
        }, Now.AddDays(-90), default);

        var outcome = await Retention.PruneAsync(new RetentionPolicy(TimeSpan.FromHours(1), 0), Now, default);

        Assert.Equal(PruneOutcome.None, outcome);
        Assert.Equal(1000, await OutputLengthAsync(id));
        Assert.Equal(ExecutionState.Running, (await RunCommands.GetExecutionAsync(id, default))!.State);
    }
}
