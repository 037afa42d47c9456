using System.Text;
using RunCommand.Contracts.Arm;

namespace RunCommand.Storage.Tests;

/// <summary>Run commands, executions, output and the agent protocol on any backend.</summary>
public abstract class RunCommandStoreContract<TBackends> : StoreContract<TBackends>
    where TBackends : IBackendFactory, new()
{
    private readonly VmKey _vm = new("00000000-0000-0000-0000-000000000001", "Group", "Vm1");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Machines.EnrollAgentAsync(_vm, "local", new AgentCredential([1, 2, 3], null), "host", "1.0", null, Now, default);
    }

    private RunCommandWrite Write(string name, string script, string fingerprint, int max = 25) => new()
    {
        Command = new RunCommandKey(_vm, name),
        Location = "local",
        Spec = new RunCommandSpec { Script = script },
        Fingerprint = fingerprint,
        MaxRunCommandsPerVm = max,
    };

    private Task<WriteOutcome> PutAsync(RunCommandWrite write) =>
        RunCommands.PutRunCommandAsync(write, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Now, default);

    [Fact]
    public async Task PutRunCommand_SameFingerprint_ChangesNothing()
    {
        var first = await PutAsync(Write("a", "echo 1", "f1"));
        var again = await PutAsync(Write("a", "echo 1", "f1"));

        Assert.Equal(WriteOutcomeKind.Created, first.Kind);
        Assert.Equal(WriteOutcomeKind.Unchanged, again.Kind);
        Assert.Equal(first.Record!.Execution.ExecutionId, again.Record!.Execution.ExecutionId);
        var (_, work) = await AgentWork.LeaseGoalStateAsync(_vm, default);
        Assert.Single(work);
    }

    [Fact]
    public async Task PutRunCommand_UpdateSpelledInAnotherCase_KeepsTheNameAsCreated()
    {
        await PutAsync(Write("Hello", "echo 1", "f1"));

        var updated = await PutAsync(Write("HELLO", "echo 2", "f2"));
        var read = await RunCommands.GetRunCommandAsync(new RunCommandKey(_vm, "hello"), default);

        Assert.Equal(WriteOutcomeKind.Updated, updated.Kind);
        Assert.Equal("Hello", updated.Record!.Command.Name);
        Assert.Equal("Hello", read!.Command.Name);
        Assert.Equal("echo 2", read.Spec.Script);
    }

    [Fact]
    public async Task PutRunCommand_ChangedWhileRunning_AsksTheAgentToCancelTheOldExecution()
    {
        var first = await PutAsync(Write("a", "sleep 100", "f1"));
        await AgentWork.LeaseGoalStateAsync(_vm, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = first.Record!.Execution.ExecutionId, State = ExecutionState.Running, StartTime = Now }, Now, default);

        var second = await PutAsync(Write("a", "echo 2", "f2"));

        Assert.Equal(WriteOutcomeKind.Updated, second.Kind);
        Assert.False(second.Record!.IsFirstExecution);
        var (_, work) = await AgentWork.LeaseGoalStateAsync(_vm, default);
        Assert.Equal(2, work.Count);
        Assert.True(work.Single(w => w.Execution.ExecutionId == first.Record.Execution.ExecutionId).Execution.CancelRequested);
        Assert.False(work.Single(w => w.Execution.ExecutionId == second.Record.Execution.ExecutionId).Execution.CancelRequested);
    }

    [Fact]
    public async Task PutRunCommand_OverTheLimit_IsRefused()
    {
        await PutAsync(Write("a", "x", "1", max: 2));
        await PutAsync(Write("b", "x", "2", max: 2));

        var third = await PutAsync(Write("c", "x", "3", max: 2));

        Assert.Equal(WriteOutcomeKind.LimitReached, third.Kind);
    }

    [Fact]
    public async Task PutRunCommand_LimitAfterUpdatesAndDeletes_CountsEveryRowOnce()
    {
        // The VM's count is kept on its row: an update or an unchanged PUT adds nothing, a deleted command frees its place.
        await PutAsync(Write("a", "x", "1", max: 2));
        Assert.Equal(WriteOutcomeKind.Updated, (await PutAsync(Write("a", "y", "2", max: 2))).Kind);
        Assert.Equal(WriteOutcomeKind.Unchanged, (await PutAsync(Write("a", "y", "2", max: 2))).Kind);
        Assert.Equal(WriteOutcomeKind.Created, (await PutAsync(Write("b", "x", "1", max: 2))).Kind);
        Assert.Equal(WriteOutcomeKind.LimitReached, (await PutAsync(Write("c", "x", "1", max: 2))).Kind);

        await RunCommands.DeleteRunCommandAsync(new RunCommandKey(_vm, "a"), "op", Now, default);
        await RunCommands.DeleteRunCommandAsync(new RunCommandKey(_vm, "a"), "op2", Now, default);

        Assert.Equal(WriteOutcomeKind.Created, (await PutAsync(Write("c", "x", "1", max: 2))).Kind);
        Assert.Equal(WriteOutcomeKind.LimitReached, (await PutAsync(Write("d", "x", "1", max: 2))).Kind);
        Assert.Equal(WriteOutcomeKind.Created, (await PutAsync(Write("d", "x", "1", max: 3))).Kind);
    }

    [Fact]
    public async Task PutRunCommand_TwoNodesRacingForTheLastPlaces_CreateExactlyTheLimit()
    {
        // Two nodes on one database, each with its own writer, create distinct commands on one VM at once: the VM's
        // kept count lets exactly the limit through, whichever node wins each place; a delete on one node frees a place
        // the other node then takes.
        const int limit = 5;
        await using var second = new RunCommandStorage(await Backends.OpenAsync(new InProcessChangeFeed()));
        var nodes = new[] { RunCommands, second.RunCommands };
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() =>
            nodes[i % 2].PutRunCommandAsync(Write($"n{i}", "x", "1", max: limit), Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Now, default))));

        Assert.Equal(limit, outcomes.Count(o => o.Kind == WriteOutcomeKind.Created));
        Assert.Equal(16 - limit, outcomes.Count(o => o.Kind == WriteOutcomeKind.LimitReached));
        Assert.Equal(limit, (await RunCommands.ListRunCommandsAsync(_vm, null, 100, default)).Count);

        var created = outcomes.First(o => o.Kind == WriteOutcomeKind.Created).Record!.Command;
        await second.RunCommands.DeleteRunCommandAsync(created, "op", Now, default);
        Assert.Equal(WriteOutcomeKind.Created, (await PutAsync(Write("after", "x", "1", max: limit))).Kind);
        Assert.Equal(WriteOutcomeKind.LimitReached, (await second.RunCommands.PutRunCommandAsync(
            Write("over", "x", "1", max: limit), Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Now, default)).Kind);
    }

    [Fact]
    public async Task PutRunCommand_UpdateRacingTheAgentsEndReportOnAnotherNode_NeverTakesTheOldExecutionBackToRunning()
    {
        // An update cancels the running execution it replaces by rewriting that execution's row. If the agent's report
        // that the execution ended commits between the update's read and its write, a write from the stale read would
        // take the execution back to Running, for ever (nothing would report it again). Each round: whichever commits
        // first, the old execution ends Succeeded, and the command's current execution is the update's.
        await using var second = new RunCommandStorage(await Backends.OpenAsync(new InProcessChangeFeed()));
        var put = await PutAsync(Write("a", "sleep 100", "f0"));
        for (var round = 1; round <= 40; round++)
        {
            var old = put.Record!.Execution.ExecutionId;
            await AgentWork.LeaseGoalStateAsync(_vm, default);
            await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = old, State = ExecutionState.Running, StartTime = Now }, Now, default);

            var update = Task.Run(() => PutAsync(Write("a", "sleep 100", $"f{round}")));
            var report = Task.Run(() => second.AgentWork.RecordReportAsync(_vm,
                new ReportWrite { ExecutionId = old, State = ExecutionState.Succeeded, ExitCode = 0, EndTime = Now }, Now, default));
            put = await update;
            await report;

            Assert.Equal(WriteOutcomeKind.Updated, put.Kind);
            Assert.Equal(ExecutionState.Succeeded, (await RunCommands.GetExecutionAsync(old, default))!.State);
            Assert.Equal(put.Record!.Execution.ExecutionId, (await RunCommands.GetRunCommandAsync(new RunCommandKey(_vm, "a"), default))!.Execution.ExecutionId);
        }
    }

    [Fact]
    public async Task PutRunCommand_TwoNodesUpdatingOneCommandAtOnce_LeaveOneCurrentExecutionAndCancelTheOther()
    {
        // Two updates of one command through two nodes: the one that commits second replaces the first's execution and
        // cancels it (it never reached the agent). Both live on would run two scripts for one command.
        await using var second = new RunCommandStorage(await Backends.OpenAsync(new InProcessChangeFeed()));
        var nodes = new[] { RunCommands, second.RunCommands };
        await PutAsync(Write("a", "x", "f0"));
        for (var round = 1; round <= 40; round++)
        {
            var outcomes = await Task.WhenAll(Enumerable.Range(0, 2).Select(node => Task.Run(() => nodes[node].PutRunCommandAsync(
                Write("a", "x", $"f{round}-{node}"), Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Now, default))));

            Assert.All(outcomes, o => Assert.Equal(WriteOutcomeKind.Updated, o.Kind));
            var current = (await RunCommands.GetRunCommandAsync(new RunCommandKey(_vm, "a"), default))!.Execution.ExecutionId;
            var states = await Task.WhenAll(outcomes.Select(async o => (await RunCommands.GetExecutionAsync(o.Record!.Execution.ExecutionId, default))!));
            Assert.Single(states, e => e.ExecutionId == current && e.State == ExecutionState.Pending);
            Assert.Single(states, e => e.ExecutionId != current && e.State == ExecutionState.Canceled);
        }

        var (_, work) = await AgentWork.LeaseGoalStateAsync(_vm, default);
        Assert.Single(work);
    }

    [Fact]
    public async Task PutRunCommand_WhileAFleetRunOfAnotherNodeStartsTargetsOnTheSameVms_BothComplete()
    {
        // A fleet run starts its targets through one node (its shared writer, several VMs a unit) while PUTs to the same
        // VMs go through the other node in the other order (on PostgreSQL on its run-command lanes, locking VM rows the
        // fleet's batch wants and waiting for ones it holds). A deadlock between them is the database's to break and the
        // store's to retry: every PUT and every target ends created, none twice.
        await using var second = new RunCommandStorage(await Backends.OpenAsync(new InProcessChangeFeed()));
        const int vmCount = 12;
        var vms = Enumerable.Range(0, vmCount).Select(i => _vm with { VmName = $"fleet{i}" }).ToArray();
        foreach (var (vm, i) in vms.Select((vm, i) => (vm, i)))
        {
            await Machines.EnrollAgentAsync(vm, "local", new AgentCredential([7, (byte)i], null), "host", "1.0", null, Now, default);
        }

        for (var round = 0; round < 3; round++)
        {
            var run = new FleetRunRecord
            {
                Run = new FleetRunKey(_vm.SubscriptionId, "Group", $"run{round}"),
                Location = "local",
                Definition = new FleetRunDefinition
                {
                    Selector = new FleetTargetSelector { ResourceGroup = "Group" },
                    Spec = new RunCommandSpec { Script = "true" },
                    MaxConcurrency = vmCount,
                    MaxErrors = 0,
                    MaxConcurrencyText = vmCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    MaxErrorsText = "0",
                    RunCommandName = $"fleet-run{round}",
                    Fingerprint = $"fleet{round}",
                },
                State = FleetRunState.Running,
                Targets = [.. vms.Select((vm, i) => new FleetTargetRecord { Ordinal = i, Machine = vm })],
                Created = Now,
            };
            Assert.Equal(FleetCreateOutcome.Created, await FleetRuns.CreateFleetRunAsync(run, default));

            var starts = Enumerable.Range(0, vmCount / 4).Select(chunk => Task.Run(() => second.FleetRuns.StartFleetTargetsAsync(run,
                [.. Enumerable.Range(chunk * 4, 4).Select(i => new FleetTargetStart(i, Guid.NewGuid().ToString(), Guid.NewGuid().ToString()))], 25, Now, default)));
            var puts = vms.Reverse().Select(vm => Task.Run(() => PutAsync(Write($"put{round}", "x", "f") with { Command = new RunCommandKey(vm, $"put{round}") })));

            Assert.All(await Task.WhenAll(puts), o => Assert.Equal(WriteOutcomeKind.Created, o.Kind));
            var started = (await Task.WhenAll(starts)).SelectMany(o => o).ToList();
            Assert.Equal(vmCount, started.Count);
            Assert.All(started, o => Assert.NotNull(o.ExecutionId));
            foreach (var vm in vms)
            {
                Assert.Equal(2 * (round + 1), (await RunCommands.ListRunCommandsAsync(vm, null, 100, default)).Count);
            }
        }
    }

    [Fact]
    public async Task PutRunCommand_UnknownVm_ReportsVmNotFound()
    {
        var write = Write("a", "x", "1") with { Command = new RunCommandKey(_vm with { VmName = "other" }, "a") };

        Assert.Equal(WriteOutcomeKind.VmNotFound, (await PutAsync(write)).Kind);
    }

    [Fact]
    public async Task PutRunCommand_ExpectedLocationOfAnotherRegion_IsRefusedAndStoresNothing()
    {
        var write = Write("a", "x", "1") with
        {
            Location = null, ExpectedLocation = "westus", Activity = kind => Entry("put-" + kind, 201),
        };

        var outcome = await PutAsync(write);

        Assert.Equal(WriteOutcomeKind.LocationMismatch, outcome.Kind);
        Assert.Equal("local", outcome.Vm!.Location);
        Assert.Null(outcome.Record);
        Assert.Null(await RunCommands.GetRunCommandAsync(write.Command, default));
        Assert.Empty(await ActivityLog.ListAuditAsync(new AuditQuery(), default));
        var (_, work) = await AgentWork.LeaseGoalStateAsync(_vm, default);
        Assert.Empty(work);
    }

    [Fact]
    public async Task PutRunCommand_NoLocationGiven_TakesTheVmsAndAcceptsItsNameInAnyCase()
    {
        var write = Write("a", "x", "1") with { Location = null, ExpectedLocation = " LOCAL" };

        var outcome = await PutAsync(write);

        Assert.Equal(WriteOutcomeKind.Created, outcome.Kind);
        Assert.Equal("local", outcome.Record!.Location);
        Assert.Equal("local", (await RunCommands.GetRunCommandAsync(write.Command, default))!.Location);
    }

    [Fact]
    public async Task PutRunCommand_AnswersTheRecordAReadThenAnswers()
    {
        // The record a PUT answers is built from the rows it wrote: it must be what they hold, to the tick the
        // backend keeps (a time finer than a microsecond), with the VM's names as stored (the request spells them
        // in another case), for a new command and for a changed one.
        var otherCase = new RunCommandKey(new VmKey(_vm.SubscriptionId.ToUpperInvariant(), "GROUP", "vm1"), "a");
        var write = Write("a", "echo 1", "f1") with
        {
            Command = otherCase,
            Tags = new Dictionary<string, string> { ["team"] = "ops" },
            SealedSecrets = [9, 8, 7],
            Spec = new RunCommandSpec { Script = "echo 1", Parameters = [new RunCommandParameter { Name = "x", Value = "1" }], TimeoutInSeconds = 30 },
        };

        foreach (var (put, at) in new[] { (write, Now.AddTicks(1_234_567)), (write with { Fingerprint = "f2" }, Now.AddTicks(7_654_321)) })
        {
            var outcome = await RunCommands.PutRunCommandAsync(put, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), at, default);
            var read = await RunCommands.GetRunCommandAsync(new RunCommandKey(_vm, "a"), default);

            var answered = outcome.Record!;
            Assert.Equal(read!.Command, answered.Command);
            Assert.Equal((read.Command.Vm.SubscriptionId, read.Command.Vm.ResourceGroup, read.Command.Vm.VmName),
                (answered.Command.Vm.SubscriptionId, answered.Command.Vm.ResourceGroup, answered.Command.Vm.VmName));
            Assert.Equal(read.Execution, answered.Execution);
            Assert.Equal(read.Created, answered.Created);
            Assert.Equal(read.Created.Offset, answered.Created.Offset);
            Assert.Equal(read.Execution.Created.Offset, answered.Execution.Created.Offset);
            Assert.Equal((read.Location, read.Fingerprint, read.OperationId, read.IsFirstExecution, read.Deleting),
                (answered.Location, answered.Fingerprint, answered.OperationId, answered.IsFirstExecution, answered.Deleting));
            Assert.Equal(read.Tags, answered.Tags);
            Assert.Equal(read.SealedSecrets, answered.SealedSecrets);
            Assert.Equal(StorageFormat.Serialize(read.Spec), StorageFormat.Serialize(answered.Spec));
        }
    }

    private static AuditRecord Entry(string id, int status) => new()
    {
        Id = id, Time = Now, Caller = "alice", Action = "Microsoft.Compute/virtualMachines/runCommands/write",
        ResourceId = "/subscriptions/s/resourceGroups/Group/providers/Microsoft.Compute/virtualMachines/Vm1/runCommands/a",
        ResourceGroup = "Group", HttpMethod = "PUT", StatusCode = status,
    };

    [Fact]
    public async Task PutRunCommand_WithActivity_AppendsTheEntryOfItsOutcomeInTheSameWrite()
    {
        var write = Write("a", "x", "1") with { Activity = kind => Entry("put-" + kind, kind == WriteOutcomeKind.Created ? 201 : 200) };

        await PutAsync(write);
        await PutAsync(write);
        await PutAsync(write with { Command = new RunCommandKey(_vm with { VmName = "other" }, "a") });
        await PutAsync(write with { Command = new RunCommandKey(_vm, "b"), MaxRunCommandsPerVm = 1 });

        // Created, then Unchanged; the refused writes (no VM, over the limit) store nothing and append nothing.
        var entries = await ActivityLog.ListAuditAsync(new AuditQuery(), default);
        Assert.Equal(["put-Unchanged:200", "put-Created:201"], entries.Select(e => $"{e.Id}:{e.StatusCode}"));
        Assert.Equal("group", entries[0].ResourceGroup);
    }

    [Fact]
    public async Task PutRunCommand_ActivityEntryRefused_StoresNeitherTheCommandNorTheEntry()
    {
        // The schema refuses an entry without an action: the run command's rows must go with it.
        var write = Write("a", "x", "1") with { Activity = _ => Entry("bad", 201) with { Action = null! } };

        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => PutAsync(write));

        Assert.Null(await RunCommands.GetRunCommandAsync(write.Command, default));
        Assert.Empty(await ActivityLog.ListAuditAsync(new AuditQuery(), default));
        var (_, work) = await AgentWork.LeaseGoalStateAsync(_vm, default);
        Assert.Empty(work);
    }

    [Fact]
    public async Task DeleteRunCommand_NeverDelivered_IsGoneAtOnce()
    {
        await PutAsync(Write("a", "x", "1"));

        var outcome = await RunCommands.DeleteRunCommandAsync(new RunCommandKey(_vm, "A"), "op", Now, default);

        Assert.Equal(DeleteOutcomeKind.Accepted, outcome.Kind);
        Assert.Null(await RunCommands.GetRunCommandAsync(new RunCommandKey(_vm, "a"), default));
        Assert.NotNull((await RunCommands.GetOperationAsync("op", default))!.Completed);
        var (_, work) = await AgentWork.LeaseGoalStateAsync(_vm, default);
        Assert.Empty(work);
    }

    [Fact]
    public async Task DeleteRunCommand_Running_WaitsForTheAgentToReportTheEnd()
    {
        var put = await PutAsync(Write("a", "sleep 100", "1"));
        var executionId = put.Record!.Execution.ExecutionId;
        await AgentWork.LeaseGoalStateAsync(_vm, default);

        var versionBefore = await AgentWork.GetGoalStateVersionAsync(_vm, default);
        var agentWoken = Changes.NextChangeAsync(Topics.Vm(_vm));
        await RunCommands.DeleteRunCommandAsync(put.Record.Command, "op", Now, default);
        Assert.True(await AgentWork.GetGoalStateVersionAsync(_vm, default) > versionBefore, "the agent's goal state must change so its poll returns");
        Assert.True(agentWoken.IsCompleted);
        var deleting = await RunCommands.GetRunCommandAsync(put.Record.Command, default);
        var ack = await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = executionId, State = ExecutionState.Running }, Now, default);
        Assert.True(deleting!.Deleting);
        Assert.True(ack!.CancelRequested);

        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = executionId, State = ExecutionState.Canceled }, Now, default);

        Assert.Null(await RunCommands.GetRunCommandAsync(put.Record.Command, default));
        Assert.NotNull((await RunCommands.GetOperationAsync("op", default))!.Completed);
    }

    [Fact]
    public async Task CountRunCommandsByState_CountsCurrentExecutionsAndSkipsOnesBeingDeleted()
    {
        Assert.All(await RunCommands.CountRunCommandsByStateAsync(default), pair => Assert.Equal(0, pair.Value));
        var done = await PutAsync(Write("done", "true", "1"));
        var running = await PutAsync(Write("running", "sleep 100", "1"));
        await PutAsync(Write("pending", "true", "1"));
        var leaving = await PutAsync(Write("leaving", "sleep 100", "1"));
        await AgentWork.LeaseGoalStateAsync(_vm, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = done.Record!.Execution.ExecutionId, State = ExecutionState.Succeeded, ExitCode = 0 }, Now, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = running.Record!.Execution.ExecutionId, State = ExecutionState.Running }, Now, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = leaving.Record!.Execution.ExecutionId, State = ExecutionState.Running }, Now, default);
        await RunCommands.DeleteRunCommandAsync(leaving.Record.Command, "op", Now, default);

        var counts = await RunCommands.CountRunCommandsByStateAsync(default);

        Assert.Equal(Enum.GetValues<ExecutionState>(), counts.Keys.Order());
        Assert.Equal(1, counts[ExecutionState.Succeeded]);
        Assert.Equal(1, counts[ExecutionState.Running]);
        Assert.Equal(1, counts[ExecutionState.Pending]);
        Assert.Equal(0, counts[ExecutionState.Failed]);
    }

    [Fact]
    public async Task GetExecutions_Several_AnswersEachWithItsOutputTailsAndLeavesOutTheUnknown()
    {
        var first = (await PutAsync(Write("a", "x", "1"))).Record!.Execution.ExecutionId;
        var second = (await PutAsync(Write("b", "x", "2"))).Record!.Execution.ExecutionId;
        await AgentWork.RecordReportAsync(_vm, new ReportWrite
        {
            ExecutionId = first, State = ExecutionState.Running,
            StdoutOffset = 0, StdoutData = Encoding.UTF8.GetBytes("hello "),
            StderrOffset = 0, StderrData = Encoding.UTF8.GetBytes("oops"),
        }, Now, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = first, State = ExecutionState.Succeeded, ExitCode = 0, StdoutOffset = 6, StdoutData = Encoding.UTF8.GetBytes("world") }, Now, default);

        var found = await RunCommands.GetExecutionsAsync([first, second, "unknown"], 7, default);
        var bare = await RunCommands.GetExecutionsAsync([first], 0, default);

        Assert.Equal(2, found.Count);
        Assert.False(found.ContainsKey("unknown"));
        Assert.Equal(ExecutionState.Succeeded, found[first].Execution.State);
        Assert.Equal("o world", Encoding.UTF8.GetString(found[first].StdoutTail));
        Assert.Equal("oops", Encoding.UTF8.GetString(found[first].StderrTail));
        Assert.Equal(ExecutionState.Pending, found[second].Execution.State);
        Assert.Empty(found[second].StdoutTail);
        Assert.Empty(bare[first].StdoutTail);
        Assert.Equal(11, bare[first].Execution.StdoutLength);
    }

    [Fact]
    public async Task GetExecutions_MoreIdsThanOneStatementTakes_AnswersEveryTailAcrossItsChunks()
    {
        // 520 ids: one full IN list of 512 and one padded list of 8; each stdout is three chunks, the tail spans two.
        var puts = await Task.WhenAll(Enumerable.Range(0, 520).Select(i => PutAsync(Write($"c{i}", "x", $"{i}", max: 1000))));
        var ids = puts.Select(p => p.Record!.Execution.ExecutionId).ToList();
        await Task.WhenAll(ids.Select(async (id, i) =>
        {
            var offset = 0L;
            foreach (var chunk in new[] { $"first-{i}|", $"second-{i}|", $"third-{i}" })
            {
                var data = Encoding.UTF8.GetBytes(chunk);
                await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = id, State = ExecutionState.Running, StdoutOffset = offset, StdoutData = data }, Now, default);
                offset += data.Length;
            }
        }));

        var found = await RunCommands.GetExecutionsAsync([.. ids, ids[0], "unknown"], 12, default);

        Assert.Equal(520, found.Count);
        for (var i = 0; i < ids.Count; i++)
        {
            var whole = $"first-{i}|second-{i}|third-{i}";
            Assert.Equal(whole[^12..], Encoding.UTF8.GetString(found[ids[i]].StdoutTail));
            Assert.Empty(found[ids[i]].StderrTail);
            Assert.Equal(whole.Length, found[ids[i]].Execution.StdoutLength);
        }
    }

    [Fact]
    public async Task RecordReport_RepeatedAndOverlappingChunks_KeepsEachByteOnce()
    {
        var put = await PutAsync(Write("a", "x", "1"));
        var id = put.Record!.Execution.ExecutionId;
        var data = Encoding.UTF8.GetBytes("hello world");

        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = id, State = ExecutionState.Running, StdoutOffset = 0, StdoutData = data[..5] }, Now, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = id, State = ExecutionState.Running, StdoutOffset = 0, StdoutData = data[..5] }, Now, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = id, State = ExecutionState.Running, StdoutOffset = 3, StdoutData = data[3..] }, Now, default);
        var gap = await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = id, State = ExecutionState.Running, StdoutOffset = 50, StdoutData = data }, Now, default);

        Assert.Equal(11, gap!.StdoutLength);
        Assert.Equal("hello world", Encoding.UTF8.GetString(await RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 0, 1000, default)));
        Assert.Equal("world", Encoding.UTF8.GetString(await RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 6, 100, default)));
        Assert.Equal("lo w", Encoding.UTF8.GetString(await RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 3, 4, default)));
    }

    [Fact]
    public async Task AppendOutput_RetriedRun_IsNotDoubledAndAGapIsRefused()
    {
        var put = await PutAsync(Write("a", "x", "1"));
        var id = put.Record!.Execution.ExecutionId;
        byte[][] run = [Encoding.UTF8.GetBytes("hello "), Encoding.UTF8.GetBytes("world")];

        var first = await AgentWork.AppendOutputAsync(_vm, id, OutputStream.Stdout, 0, run, default);
        var retried = await AgentWork.AppendOutputAsync(_vm, id, OutputStream.Stdout, 0, run, default);
        var overlapping = await AgentWork.AppendOutputAsync(_vm, id, OutputStream.Stdout, 6, [Encoding.UTF8.GetBytes("world!")], default);
        var gap = await AgentWork.AppendOutputAsync(_vm, id, OutputStream.Stdout, 20, [Encoding.UTF8.GetBytes("lost")], default);
        var stderr = await AgentWork.AppendOutputAsync(_vm, id, OutputStream.Stderr, 0, [Encoding.UTF8.GetBytes("err")], default);

        Assert.Equal((11, false), (first!.StdoutLength, first.Gap));
        Assert.Equal((11, false), (retried!.StdoutLength, retried.Gap));
        Assert.Equal((12, false), (overlapping!.StdoutLength, overlapping.Gap));
        Assert.Equal((12, true), (gap!.StdoutLength, gap.Gap));
        Assert.Equal((12, 3L), (stderr!.StdoutLength, stderr.StderrLength));
        Assert.Equal("hello world!", Encoding.UTF8.GetString(await RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 0, 1000, default)));
        Assert.Equal("err", Encoding.UTF8.GetString(await RunCommands.ReadOutputAsync(id, OutputStream.Stderr, 0, 1000, default)));
        var execution = await RunCommands.GetExecutionAsync(id, default);
        Assert.Equal((12L, 3L), (execution!.StdoutLength, execution.StderrLength));
    }

    [Fact]
    public async Task AppendOutput_AnotherVmsExecution_IsNotFound()
    {
        var other = new VmKey(_vm.SubscriptionId, "group", "vm2");
        await Machines.EnrollAgentAsync(other, "local", new AgentCredential([9], null), null, null, null, Now, default);
        var put = await PutAsync(Write("a", "x", "1"));

        Assert.Null(await AgentWork.AppendOutputAsync(other, put.Record!.Execution.ExecutionId, OutputStream.Stdout, 0, [[1, 2, 3]], default));
        Assert.Empty(await RunCommands.ReadOutputAsync(put.Record.Execution.ExecutionId, OutputStream.Stdout, 0, 1000, default));
    }

    [Fact]
    public async Task ReadOutput_FromTheMiddleOfManyRows_ReturnsExactlyTheRangeAsked()
    {
        var put = await PutAsync(Write("a", "x", "1"));
        var id = put.Record!.Execution.ExecutionId;
        // 200 rows of 1,000 bytes, each byte its offset mod 251: any misplaced byte shows.
        var all = Enumerable.Range(0, 200_000).Select(i => (byte)(i % 251)).ToArray();
        var rows = all.Chunk(1000).ToList();
        for (var i = 0; i < rows.Count; i += 50)
        {
            await AgentWork.AppendOutputAsync(_vm, id, OutputStream.Stdout, i * 1000L, rows.GetRange(i, 50), default);
        }

        Assert.Equal(all[123_456..127_552], await RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 123_456, 4096, default));
        Assert.Equal(all[199_000..], await RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 199_000, 4096, default));
        Assert.Equal(all[..10], await RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 0, 10, default));
        Assert.Equal(all[1000..2000], await RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 1000, 1000, default));
    }

    [Fact]
    public async Task RecordReport_AfterTerminal_NeverMovesTheStateBack()
    {
        var put = await PutAsync(Write("a", "x", "1"));
        var id = put.Record!.Execution.ExecutionId;

        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = id, State = ExecutionState.Failed, ExitCode = 3 }, Now, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = id, State = ExecutionState.Running }, Now, default);

        var execution = await RunCommands.GetExecutionAsync(id, default);
        Assert.Equal(ExecutionState.Failed, execution!.State);
        Assert.Equal(3, execution.ExitCode);
    }

    [Fact]
    public async Task RecordReport_AnotherVmsExecution_IsNotFound()
    {
        var other = new VmKey(_vm.SubscriptionId, "group", "vm2");
        await Machines.EnrollAgentAsync(other, "local", new AgentCredential([9], null), null, null, null, Now, default);
        var put = await PutAsync(Write("a", "x", "1"));

        var outcome = await AgentWork.RecordReportAsync(other, new ReportWrite { ExecutionId = put.Record!.Execution.ExecutionId, State = ExecutionState.Succeeded }, Now, default);

        Assert.Null(outcome);
    }

    [Fact]
    public async Task PutRunCommand_WakesAWaiterOfTheVm()
    {
        var waiter = Changes.NextChangeAsync(Topics.Vm(_vm));
        var before = await AgentWork.GetGoalStateVersionAsync(_vm, default);

        await PutAsync(Write("a", "x", "1"));

        Assert.True(waiter.IsCompleted);
        Assert.True(await AgentWork.GetGoalStateVersionAsync(_vm, default) > before);
    }

    [Fact]
    public async Task ReadGoalState_CredentialHeld_AnswersVersionWorkAndForgetListAndMarksNothingUntilDelivered()
    {
        var gone = (await PutAsync(Write("gone", "echo 1", "g"))).Record!.Execution.ExecutionId;
        await AgentWork.LeaseGoalStateAsync(_vm, default);
        await AgentWork.RecordReportAsync(_vm, new ReportWrite { ExecutionId = gone, State = ExecutionState.Succeeded, ExitCode = 0, StartTime = Now, EndTime = Now }, Now, default);
        await RunCommands.DeleteRunCommandAsync(new RunCommandKey(_vm, "gone"), Guid.NewGuid().ToString(), Now, default);
        var pending = (await PutAsync(Write("a", "echo 2", "a"))).Record!.Execution.ExecutionId;
        var token = new AgentCredential([1, 2, 3], null);

        var read = await AgentWork.ReadGoalStateAsync(_vm, token, default);

        Assert.NotNull(read);
        Assert.Equal(await AgentWork.GetGoalStateVersionAsync(_vm, default), read.Version);
        Assert.Equal(pending, Assert.Single(read.Work).Execution.ExecutionId);
        Assert.False(read.Work[0].Execution.Delivered);
        Assert.Equal([gone], read.Forget);
        Assert.False(Assert.Single((await AgentWork.ReadGoalStateAsync(_vm, token, default))!.Work).Execution.Delivered);

        var delivered = await AgentWork.DeliverGoalStateAsync(_vm, token, read, default);

        Assert.True(Assert.Single(delivered!.Work).Execution.Delivered);
        Assert.Equal([gone], delivered.Forget);
        var again = await AgentWork.ReadGoalStateAsync(_vm, token, default);
        Assert.True(Assert.Single(again!.Work).Execution.Delivered);
        // Everything delivered: the answer is handed over as read.
        Assert.Same(again, await AgentWork.DeliverGoalStateAsync(_vm, token, again, default));
    }

    [Fact]
    public async Task ReadGoalState_MachineReKeyedOrRevoked_IsNullAndDeliversNothing()
    {
        var pending = (await PutAsync(Write("a", "echo 2", "a"))).Record!.Execution.ExecutionId;
        var token = new AgentCredential([1, 2, 3], null);
        var read = (await AgentWork.ReadGoalStateAsync(_vm, token, default))!;

        // Enrolled again with a key (as through another node): the old token no longer speaks for the machine.
        await Machines.EnrollAgentAsync(_vm, "local", new AgentCredential(null, [7, 7, 7]), "host", "1.0", null, Now, default);

        Assert.Null(await AgentWork.ReadGoalStateAsync(_vm, token, default));
        Assert.Null(await AgentWork.DeliverGoalStateAsync(_vm, token, read, default));
        Assert.Null(await AgentWork.ReadGoalStateAsync(_vm, new AgentCredential(null, [7, 7, 8]), default));
        Assert.Null(await AgentWork.ReadGoalStateAsync(_vm, new AgentCredential([7, 7, 7], null), default));
        Assert.Null(await AgentWork.ReadGoalStateAsync(new VmKey(_vm.SubscriptionId, _vm.ResourceGroup, "NoSuchVm"), new AgentCredential(null, [7, 7, 7]), default));
        var key = new AgentCredential(null, [7, 7, 7]);
        var withKey = await AgentWork.ReadGoalStateAsync(_vm, key, default);
        Assert.False(Assert.Single(withKey!.Work).Execution.Delivered);
        Assert.Equal(pending, withKey.Work[0].Execution.ExecutionId);

        Assert.True(await Machines.RevokeAgentAsync(_vm, default));

        Assert.Null(await AgentWork.ReadGoalStateAsync(_vm, key, default));
        Assert.Null(await AgentWork.DeliverGoalStateAsync(_vm, key, withKey, default));
        // Nothing was marked delivered for the refused agent: a delete can still cancel on the server alone.
        Assert.False((await RunCommands.GetExecutionAsync(pending, default))!.Delivered);
    }

    [Fact]
    public async Task EnrollAgent_Again_RevokesThePreviousCredential()
    {
        await Machines.EnrollAgentAsync(_vm, "local", new AgentCredential([4, 5, 6], null), "host", "1.0", null, Now, default);

        Assert.Null(await Machines.FindVmByAgentTokenAsync([1, 2, 3], default));
        Assert.Equal("Vm1", (await Machines.FindVmByAgentTokenAsync([4, 5, 6], default))!.Vm.VmName);
    }

    [Fact]
    public async Task EnrollAgent_WithKey_ReplacesTokenAndRevokeClearsKey()
    {
        await Machines.EnrollAgentAsync(_vm, "local", new AgentCredential(null, [7, 7, 7]), "host", "1.0", null, Now, default);

        Assert.Null(await Machines.FindVmByAgentTokenAsync([1, 2, 3], default));
        var found = await Machines.FindVmAgentKeyAsync(_vm.ResourceId.ToUpperInvariant(), default);
        Assert.Equal("Vm1", found!.Value.Vm.Vm.VmName);
        Assert.Equal([7, 7, 7], found.Value.PublicKey);

        Assert.True(await Machines.RevokeAgentAsync(_vm, default));

        Assert.Null(await Machines.FindVmAgentKeyAsync(_vm.ResourceId, default));
    }

    [Fact]
    public async Task ListRunCommands_Paged_ReturnsEachOnceInNameOrder()
    {
        foreach (var name in new[] { "c", "A", "b", "D" })
        {
            await PutAsync(Write(name, "x", name));
        }

        var first = await RunCommands.ListRunCommandsAsync(_vm, null, 2, default);
        var second = await RunCommands.ListRunCommandsAsync(_vm, first[^1].Command.Name, 2, default);

        Assert.Equal(["A", "b", "c", "D"], first.Concat(second).Select(r => r.Command.Name));
    }

    [Fact]
    public async Task PutCommandDocument_SameIdOtherCase_ReplacesAndListsOnce()
    {
        var created = await Documents.PutCommandDocumentAsync(new RunCommandDocument { Id = "Deploy", Script = ["echo 1"] }, Now, default);
        var replaced = await Documents.PutCommandDocumentAsync(new RunCommandDocument { Id = "deploy", Script = ["echo 2"] }, Now.AddMinutes(1), default);

        Assert.True(created);
        Assert.False(replaced);
        var stored = Assert.Single(await Documents.ListCommandDocumentsAsync(default));
        Assert.Equal(["echo 2"], stored.Document.Script);
        Assert.Equal(Now, stored.Created);
        Assert.Equal(Now.AddMinutes(1), stored.Updated);
        Assert.NotNull(await Documents.GetCommandDocumentAsync("DEPLOY", default));
    }

    [Fact]
    public async Task DeleteCommandDocument_Missing_ReturnsFalse()
    {
        await Documents.PutCommandDocumentAsync(new RunCommandDocument { Id = "d", Script = ["true"] }, Now, default);

        Assert.True(await Documents.DeleteCommandDocumentAsync("D", default));
        Assert.False(await Documents.DeleteCommandDocumentAsync("d", default));
        Assert.Null(await Documents.GetCommandDocumentAsync("d", default));
    }

    [Fact]
    public async Task StartActionRun_KnownVm_ReachesAgentButIsNeitherListedNorCounted()
    {
        var write = new ActionRunWrite { Vm = _vm, RunCommandName = "$action-op1", Spec = new RunCommandSpec { CommandId = "RunShellScript", ResolvedScript = "echo hi" } };

        Assert.True(await RunCommands.StartActionRunAsync(write, "exec1", "op1", Now, default));

        var (_, work) = await AgentWork.LeaseGoalStateAsync(_vm, default);
        var item = Assert.Single(work);
        Assert.Equal("$action-op1", item.Command.Name);
        Assert.Equal("echo hi", item.Spec.ResolvedScript);
        Assert.Empty(await RunCommands.ListRunCommandsAsync(_vm, null, 100, default));
        var operation = await RunCommands.GetOperationAsync("op1", default);
        Assert.Equal(OperationKind.Action, operation!.Kind);
        Assert.Equal("exec1", operation.ExecutionId);
        Assert.Equal(WriteOutcomeKind.Created, (await PutAsync(Write("only", "true", "f", max: 1))).Kind);
    }

    [Fact]
    public async Task StartActionRun_UnknownVm_ReturnsFalse()
    {
        var write = new ActionRunWrite { Vm = _vm with { VmName = "nope" }, RunCommandName = "$action-x", Spec = new RunCommandSpec() };

        Assert.False(await RunCommands.StartActionRunAsync(write, "e", "o", Now, default));
        Assert.Null(await RunCommands.GetOperationAsync("o", default));
    }
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PutRunCommand_ManyConcurrentWriters_AllSucceed(bool sameVm)
    {
        // 32 clients at once, each creating its own run command (on its own VM, or all on one VM): the backend's
        // conflicts between them are its own business, never a failed request.
        const int writers = 32;
        var vms = Enumerable.Range(0, writers).Select(i => sameVm || i == 0 ? _vm : _vm with { VmName = $"Vm-c{i}" }).ToArray();
        foreach (var (vm, i) in vms.Distinct().Skip(1).Select((vm, i) => (vm, i)))
        {
            await Machines.EnrollAgentAsync(vm, "local", new AgentCredential([2, (byte)i], null), "host", "1.0", null, Now, default);
        }

        var outcomes = await Task.WhenAll(vms.Select((vm, i) => Task.Run(() => PutAsync(Write($"c{i}", "echo", $"f{i}", max: writers) with
        {
            Command = new RunCommandKey(vm, $"c{i}"),
        }))));

        Assert.All(outcomes, o => Assert.Equal(WriteOutcomeKind.Created, o.Kind));
        var listed = await Task.WhenAll(vms.Distinct().Select(vm => RunCommands.ListRunCommandsAsync(vm, null, 100, default)));
        Assert.Equal(writers, listed.Sum(l => l.Count));
    }
}
