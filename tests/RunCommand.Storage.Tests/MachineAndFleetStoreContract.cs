namespace RunCommand.Storage.Tests;

/// <summary>VMs, scale sets and fleet runs on any backend.</summary>
public abstract class MachineAndFleetStoreContract<TBackends> : StoreContract<TBackends>
    where TBackends : IBackendFactory, new()
{
    private const string Subscription = "00000000-0000-0000-0000-000000000001";

    private Task<VmRecord> EnrollInstanceAsync(string scaleSet, byte token, IReadOnlyDictionary<string, string>? tags = null) =>
        Machines.EnrollScaleSetInstanceAsync(new ScaleSetKey(Subscription, "Group", scaleSet), "local", new AgentCredential([token], null), null, null, tags, Now, default);

    [Fact]
    public async Task EnrollScaleSetInstance_ThreeAgents_GetIdsZeroOneTwoAndTheCredentialFindsTheInstance()
    {
        var instances = new[] { await EnrollInstanceAsync("Web", 1), await EnrollInstanceAsync("web", 2), await EnrollInstanceAsync("WEB", 3) };

        Assert.Equal(["0", "1", "2"], instances.Select(i => i.Vm.VmName));
        Assert.All(instances, i => Assert.Equal("Web", i.Vm.ScaleSetName));
        Assert.EndsWith("/virtualMachineScaleSets/Web/virtualMachines/1", instances[1].Vm.ResourceId, StringComparison.Ordinal);
        Assert.Equal(instances[1].Vm, (await Machines.FindVmByAgentTokenAsync([2], default))!.Vm);
        Assert.Equal(3, (await Machines.GetScaleSetAsync(new ScaleSetKey(Subscription, "group", "web"), default))!.InstanceCount);
        Assert.Equal(["0", "1", "2"], (await Machines.ListScaleSetInstancesAsync(new ScaleSetKey(Subscription, "group", "web"), default)).Select(i => i.Vm.VmName));
    }

    [Fact]
    public async Task TryUseAgentAssertion_SecondUse_IsRefusedUntilPurgedAfterExpiry()
    {
        byte[] early = [1, 2, 3], late = [4, 5, 6];

        Assert.True(await Machines.TryUseAgentAssertionAsync(early, Now.AddMinutes(5), default));
        Assert.True(await Machines.TryUseAgentAssertionAsync(late, Now.AddMinutes(10), default));
        Assert.False(await Machines.TryUseAgentAssertionAsync(early, Now.AddMinutes(5), default));
        Assert.False(await Machines.TryUseAgentAssertionAsync(late, Now.AddMinutes(10), default));

        // Purged once expired, and only then; a purged id could be used again (its assertion's time refuses it).
        Assert.Equal(0, await Machines.PurgeAgentAssertionsAsync(Now.AddMinutes(4), default));
        Assert.Equal(1, await Machines.PurgeAgentAssertionsAsync(Now.AddMinutes(6), default));
        Assert.True(await Machines.TryUseAgentAssertionAsync(early, Now.AddMinutes(11), default));
        Assert.False(await Machines.TryUseAgentAssertionAsync(late, Now.AddMinutes(10), default));
    }

    [Fact]
    public async Task PurgeAgentAssertions_MoreThanOneBatch_DeletesEveryExpiredOne()
    {
        for (var i = 0; i < 1_001; i++)
        {
            Assert.True(await Machines.TryUseAgentAssertionAsync(BitConverter.GetBytes(i), Now.AddMinutes(1), default));
        }

        Assert.True(await Machines.TryUseAgentAssertionAsync([9, 9, 9], Now.AddMinutes(10), default));

        Assert.Equal(1_001, await Machines.PurgeAgentAssertionsAsync(Now.AddMinutes(2), default));
        Assert.True(await Machines.TryUseAgentAssertionAsync(BitConverter.GetBytes(1_000), Now.AddMinutes(11), default));
        Assert.False(await Machines.TryUseAgentAssertionAsync([9, 9, 9], Now.AddMinutes(10), default));
    }

    [Fact]
    public async Task TryUseAgentAssertion_SameIdAtOnce_ExactlyOneUseSucceeds()
    {
        var uses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Machines.TryUseAgentAssertionAsync([7, 7], Now.AddMinutes(5), default))));

        Assert.Single(uses, used => used);
    }

    [Fact]
    public async Task TryUseAgentAssertions_MachineWithoutThatKey_IsCredentialGoneAndNothingIsWritten()
    {
        var keyed = new VmKey(Subscription, "Group", "Keyed");
        var tokenOnly = new VmKey(Subscription, "Group", "tokenonly");
        await Machines.EnrollAgentAsync(keyed, "local", new AgentCredential(null, [1, 1]), null, null, null, Now, default);
        await Machines.EnrollAgentAsync(tokenOnly, "local", new AgentCredential([5], null), null, null, null, Now, default);
        byte[] first = [1], otherKey = [2], noKey = [3], noMachine = [4];

        var outcomes = await Machines.TryUseAgentAssertionsAsync(
        [
            new AgentAssertionUse(first, Now.AddMinutes(6), keyed, [1, 1]),
            new AgentAssertionUse(first, Now.AddMinutes(6), keyed, [1, 1]),
            new AgentAssertionUse(otherKey, Now.AddMinutes(6), keyed, [1, 2]),
            new AgentAssertionUse(noKey, Now.AddMinutes(6), tokenOnly, [1, 1]),
            new AgentAssertionUse(noMachine, Now.AddMinutes(6), new VmKey(Subscription, "Group", "gone"), [1, 1]),
        ], default);

        Assert.Equal([AgentAssertionOutcome.FirstUse, AgentAssertionOutcome.Replayed, AgentAssertionOutcome.CredentialGone,
            AgentAssertionOutcome.CredentialGone, AgentAssertionOutcome.CredentialGone], outcomes);
        // Refused uses were not recorded; the machine's key is compared whatever the casing its name was given in.
        Assert.True(await Machines.TryUseAgentAssertionAsync(otherKey, Now.AddMinutes(6), default));
        Assert.True(await Machines.TryUseAgentAssertionAsync(noKey, Now.AddMinutes(6), default));
        Assert.Equal([AgentAssertionOutcome.FirstUse], await Machines.TryUseAgentAssertionsAsync(
            [new AgentAssertionUse([5], Now.AddMinutes(6), new VmKey(Subscription, "GROUP", "keyed"), [1, 1])], default));

        // Revoked, then enrolled again with a new key: only the new key's uses are recorded.
        await Machines.RevokeAgentAsync(keyed, default);
        Assert.Equal([AgentAssertionOutcome.CredentialGone], await Machines.TryUseAgentAssertionsAsync([new AgentAssertionUse([6], Now.AddMinutes(6), keyed, [1, 1])], default));
        await Machines.EnrollAgentAsync(keyed, "local", new AgentCredential(null, [9, 9]), null, null, null, Now, default);
        Assert.Equal([AgentAssertionOutcome.CredentialGone, AgentAssertionOutcome.FirstUse], await Machines.TryUseAgentAssertionsAsync(
            [new AgentAssertionUse([7], Now.AddMinutes(6), keyed, [1, 1]), new AgentAssertionUse([8], Now.AddMinutes(6), keyed, [9, 9])], default));
    }

    [Fact]
    public async Task SetAgentVersion_ChangesItOnlyWhenDifferent_AndNotForAMachineThatDoesNotExist()
    {
        var vm = new VmKey(Subscription, "group", "versioned");
        await Machines.EnrollAgentAsync(vm, "local", new AgentCredential([9], null), "host", "1.0+old", null, Now, default);

        Assert.True(await Machines.SetAgentVersionAsync(vm, "1.1+new", default));
        Assert.False(await Machines.SetAgentVersionAsync(vm, "1.1+new", default));
        Assert.False(await Machines.SetAgentVersionAsync(new VmKey(Subscription, "group", "absent"), "1.1+new", default));
        Assert.Equal("1.1+new", (await Machines.GetVmAsync(vm, default))!.AgentVersion);
    }

    [Fact]
    public async Task TouchAgents_PollHeldByANode_IsHeldWhileItsLeaseRunsAndOnlyThatNodeOrASignOffEndsIt()
    {
        var vm = new VmKey(Subscription, "group", "polled");
        await Machines.EnrollAgentAsync(vm, "local", new AgentCredential([5], null), "host", "1.0", null, Now, default);
        var leases = Storage.Leases;

        // Node A claims the poll: held once node A's lease says it is alive, in every read of the machine.
        await Machines.TouchAgentsAsync([new AgentContact(vm, Now.AddSeconds(1), PollHeld: true)], "node-a", default);
        Assert.Null((await Machines.GetVmAsync(vm, default))!.HeldUntil);
        Assert.True(await leases.TryHoldAsync(LeaseKind.Node, "node-a", "node-a", Now, Now.AddSeconds(75), default));
        var held = (await Machines.GetVmAsync(vm, default))!;
        Assert.Equal((Now.AddSeconds(1), Now.AddSeconds(75)), (held.LastContact, held.HeldUntil));
        Assert.Equal(Now.AddSeconds(75), (await Machines.ListVmsAsync(Subscription, "group", default)).Single(v => v.Vm.VmName == "polled").HeldUntil);

        // A contact without a poll from node B leaves node A's claim; the end of node A's poll ends it.
        await Machines.TouchAgentsAsync([new AgentContact(vm, Now.AddSeconds(2), PollHeld: false)], "node-b", default);
        Assert.Equal((Now.AddSeconds(2), Now.AddSeconds(75)), ((await Machines.GetVmAsync(vm, default))!.LastContact, (await Machines.GetVmAsync(vm, default))!.HeldUntil));
        await Machines.TouchAgentsAsync([new AgentContact(vm, Now.AddSeconds(3), PollHeld: false)], "node-a", default);
        var ended = (await Machines.GetVmAsync(vm, default))!;
        Assert.Equal((Now.AddSeconds(3), (DateTimeOffset?)null), (ended.LastContact, ended.HeldUntil));

        // Claimed again, then the agent signs off: no node holds its poll any more.
        await Machines.TouchAgentsAsync([new AgentContact(vm, Now.AddSeconds(4), PollHeld: true)], "node-a", default);
        Assert.NotNull((await Machines.GetVmAsync(vm, default))!.HeldUntil);
        Assert.True(await Machines.SignOffAgentAsync(vm, Now.AddSeconds(5), default));
        Assert.Null((await Machines.GetVmAsync(vm, default))!.HeldUntil);
    }

    [Fact]
    public async Task ListVms_WithScaleSetInstances_ListsOnlyVmsWhileListMachinesListsBoth()
    {
        await Machines.EnrollAgentAsync(new VmKey(Subscription, "Group", "vm1"), "local", new AgentCredential([9], null), null, null, new Dictionary<string, string> { ["role"] = "web" }, Now, default);
        await EnrollInstanceAsync("ss", 1, new Dictionary<string, string> { ["role"] = "db" });

        Assert.Equal(["vm1"], (await Machines.ListVmsAsync(Subscription, null, default)).Select(v => v.Vm.VmName));
        var machines = await Machines.ListMachinesAsync(Subscription, "group", default);
        Assert.Equal(["web", "db"], machines.Select(m => m.Tags!["role"]));
    }

    [Fact]
    public async Task RunCommandOnInstance_PutAndLease_RoundTripsTheScaleSetIdentity()
    {
        var instance = (await EnrollInstanceAsync("ss", 1)).Vm;
        var write = new RunCommandWrite
        {
            Command = new RunCommandKey(instance, "rc"),
            Location = "local",
            Spec = new RunCommandSpec { Script = "true" },
            Fingerprint = "f",
            MaxRunCommandsPerVm = 25,
        };

        await RunCommands.PutRunCommandAsync(write, "e1", "o1", Now, default);

        Assert.Equal(write.Command, (await RunCommands.GetRunCommandAsync(write.Command, default))!.Command);
        var (_, work) = await AgentWork.LeaseGoalStateAsync(instance, default);
        Assert.Equal(write.Command, Assert.Single(work).Command);
        Assert.Empty(await RunCommands.ListRunCommandsAsync(instance with { VmName = "1" }, null, 25, default));
    }

    [Fact]
    public async Task FleetRun_CreateRecordSkipComplete_PersistsEveryDecision()
    {
        var machine = new VmKey(Subscription, "Group", "0", "ss");
        var key = new FleetRunKey(Subscription, "Group", "run1");
        var run = new FleetRunRecord
        {
            Run = key,
            Location = "local",
            Definition = new FleetRunDefinition
            {
                Selector = new FleetTargetSelector { VirtualMachineScaleSet = "ss" },
                Spec = new RunCommandSpec { Script = "true" },
                MaxConcurrency = 1,
                MaxErrors = 0,
                MaxConcurrencyText = "1",
                MaxErrorsText = "0",
                RunCommandName = "fleet-run1",
                Fingerprint = "f",
            },
            State = FleetRunState.Running,
            Targets = [new FleetTargetRecord { Ordinal = 0, Machine = machine }, new FleetTargetRecord { Ordinal = 1, Machine = machine with { VmName = "1" } }],
            Created = Now,
        };
        var woken = Changes.NextChangeAsync(Topics.Fleets);

        Assert.Equal(FleetCreateOutcome.Created, await FleetRuns.CreateFleetRunAsync(run, default));
        Assert.True(woken.IsCompleted);
        Assert.Equal(FleetCreateOutcome.Exists, await FleetRuns.CreateFleetRunAsync(run, default));
        await EnrollInstanceAsync("ss", 1);
        await FleetRuns.StartFleetTargetsAsync(run, [new FleetTargetStart(0, "e1", "o1")], 25, Now, default);
        await FleetRuns.SkipUnstartedFleetTargetsAsync(key, "too many errors", default);
        Assert.Single(await FleetRuns.ListActiveFleetRunsAsync(default));
        await FleetRuns.CompleteFleetRunAsync(key, FleetRunState.Failed, Now, default);

        var stored = (await FleetRuns.GetFleetRunAsync(key, default))!;
        Assert.Equal(FleetRunState.Failed, stored.State);
        Assert.Equal("e1", stored.Targets[0].ExecutionId);
        Assert.Equal(machine, stored.Targets[0].Machine);
        Assert.True(stored.Targets[1].NotStarted);
        Assert.Equal("too many errors", stored.Targets[1].Message);
        Assert.Empty(await FleetRuns.ListActiveFleetRunsAsync(default));
    }

    private static FleetRunRecord FleetRun(string name, params VmKey[] machines) => new()
    {
        Run = new FleetRunKey(Subscription, "Group", name),
        Location = "local",
        Definition = new FleetRunDefinition
        {
            Selector = new FleetTargetSelector { VirtualMachines = [.. machines.Select(m => m.ResourceId)] },
            Spec = new RunCommandSpec { Script = "echo hi" },
            MaxConcurrency = machines.Length,
            MaxErrors = machines.Length,
            MaxConcurrencyText = "100%",
            MaxErrorsText = "100%",
            RunCommandName = "fleet-" + name,
            Fingerprint = "fleet-fingerprint-" + name,
        },
        State = FleetRunState.Running,
        Targets = [.. machines.Select((m, i) => new FleetTargetRecord { Ordinal = i, Machine = m })],
        Created = Now,
    };

    private async Task<VmKey> EnrollVmAsync(string name, byte token)
    {
        var vm = new VmKey(Subscription, "Group", name);
        await Machines.EnrollAgentAsync(vm, "local", new AgentCredential([token], null), null, null, null, Now, default);
        return vm;
    }

    [Fact]
    public async Task StartFleetTargets_ABatch_WritesEachRunCommandAndRecordsItsExecutionOnTheTarget()
    {
        VmKey[] machines = [await EnrollVmAsync("a", 1), await EnrollVmAsync("b", 2), await EnrollVmAsync("c", 3)];
        var run = FleetRun("batch", machines);
        await FleetRuns.CreateFleetRunAsync(run, default);
        var agentWoken = Changes.NextChangeAsync(Topics.Vm(machines[2]));
        var watchersWoken = Changes.NextChangeAsync(Topics.Fleet(run.Run));

        var outcomes = await FleetRuns.StartFleetTargetsAsync(run, [.. Enumerable.Range(0, 3).Select(i => new FleetTargetStart(i, $"e{i}", $"o{i}"))], 25, Now, default);

        Assert.Equal([("e0", (string?)null), ("e1", null), ("e2", null)], outcomes.Select(o => (o.ExecutionId!, o.FailureMessage)));
        Assert.True(agentWoken.IsCompleted);
        Assert.True(watchersWoken.IsCompleted);
        var stored = (await FleetRuns.GetFleetRunAsync(run.Run, default))!;
        Assert.Equal(["e0", "e1", "e2"], stored.Targets.Select(t => t.ExecutionId));
        for (var i = 0; i < 3; i++)
        {
            var command = (await RunCommands.GetRunCommandAsync(new RunCommandKey(machines[i], "fleet-batch"), default))!;
            Assert.Equal($"e{i}", command.Execution.ExecutionId);
            Assert.Equal(ExecutionState.Pending, command.Execution.State);
            Assert.Equal($"o{i}", command.OperationId);
            var (_, work) = await AgentWork.LeaseGoalStateAsync(machines[i], default);
            Assert.Equal($"e{i}", Assert.Single(work).Execution.ExecutionId);
        }
    }

    [Fact]
    public async Task StartFleetTargets_ATargetCannotStart_RecordsWhyAndStopsSoTheCallerCanApplyMaxErrors()
    {
        var gone = new VmKey(Subscription, "Group", "gone");
        VmKey[] machines = [await EnrollVmAsync("a", 1), gone, await EnrollVmAsync("c", 3)];
        var run = FleetRun("stops", machines);
        await FleetRuns.CreateFleetRunAsync(run, default);

        var outcomes = await FleetRuns.StartFleetTargetsAsync(run, [.. Enumerable.Range(0, 3).Select(i => new FleetTargetStart(i, $"e{i}", $"o{i}"))], 25, Now, default);

        Assert.Equal([0, 1], outcomes.Select(o => o.Ordinal));
        Assert.Equal("e0", outcomes[0].ExecutionId);
        Assert.Null(outcomes[1].ExecutionId);
        Assert.Equal("The machine no longer exists.", outcomes[1].FailureMessage);
        var stored = (await FleetRuns.GetFleetRunAsync(run.Run, default))!;
        Assert.True(stored.Targets[1].StartFailed);
        Assert.Equal("The machine no longer exists.", stored.Targets[1].Message);
        Assert.Equal(new FleetTargetRecord { Ordinal = 2, Machine = machines[2] }, stored.Targets[2]);
        Assert.Null(await RunCommands.GetRunCommandAsync(new RunCommandKey(machines[2], "fleet-stops"), default));
    }

    [Fact]
    public async Task StartFleetTargets_LimitReachedOnAMachine_IsAFailureWithTheLimitInTheMessage()
    {
        var machine = await EnrollVmAsync("full", 1);
        var run = FleetRun("full", machine);
        await FleetRuns.CreateFleetRunAsync(run, default);
        await RunCommands.PutRunCommandAsync(new RunCommandWrite
        {
            Command = new RunCommandKey(machine, "other"),
            Location = "local",
            Spec = new RunCommandSpec { Script = "true" },
            Fingerprint = "other",
            MaxRunCommandsPerVm = 1,
        }, "e-other", "o-other", Now, default);

        var outcome = Assert.Single(await FleetRuns.StartFleetTargetsAsync(run, [new FleetTargetStart(0, "e0", "o0")], 1, Now, default));

        Assert.Null(outcome.ExecutionId);
        Assert.Equal("The machine already has the maximum of 1 run commands.", outcome.FailureMessage);
        Assert.True((await FleetRuns.GetFleetRunAsync(run.Run, default))!.Targets[0].StartFailed);
    }

    [Fact]
    public async Task StartFleetTargets_StartedAgain_LeavesDecidedTargetsAloneAndRunsNothingTwice()
    {
        VmKey[] machines = [await EnrollVmAsync("a", 1), await EnrollVmAsync("b", 2)];
        var run = FleetRun("again", machines);
        await FleetRuns.CreateFleetRunAsync(run, default);
        await FleetRuns.StartFleetTargetsAsync(run, [new FleetTargetStart(0, "e0", "o0")], 25, Now, default);

        // Target 0 is decided: a second start (a pass that did not see the first, another node) skips it.
        var outcomes = await FleetRuns.StartFleetTargetsAsync(run, [new FleetTargetStart(0, "x0", "y0"), new FleetTargetStart(1, "e1", "o1")], 25, Now, default);

        Assert.Equal([(1, "e1")], outcomes.Select(o => (o.Ordinal, o.ExecutionId!)));
        Assert.Equal("e0", (await RunCommands.GetRunCommandAsync(new RunCommandKey(machines[0], "fleet-again"), default))!.Execution.ExecutionId);
        Assert.Null(await RunCommands.GetExecutionAsync("x0", default));
    }

    [Fact]
    public async Task StartFleetTargets_RunCommandAlreadyWrittenWithTheRunsFingerprint_RecordsThatExecutionInsteadOfANewOne()
    {
        var machine = await EnrollVmAsync("a", 1);
        var run = FleetRun("resumed", machine);
        await FleetRuns.CreateFleetRunAsync(run, default);
        await RunCommands.PutRunCommandAsync(new RunCommandWrite
        {
            Command = new RunCommandKey(machine, "fleet-resumed"),
            Location = "local",
            Spec = run.Definition.Spec,
            Fingerprint = run.Definition.Fingerprint,
            MaxRunCommandsPerVm = 25,
        }, "e-first", "o-first", Now, default);

        var outcome = Assert.Single(await FleetRuns.StartFleetTargetsAsync(run, [new FleetTargetStart(0, "e-second", "o-second")], 25, Now, default));

        Assert.Equal("e-first", outcome.ExecutionId);
        Assert.Equal("e-first", (await FleetRuns.GetFleetRunAsync(run.Run, default))!.Targets[0].ExecutionId);
        Assert.Null(await RunCommands.GetExecutionAsync("e-second", default));
    }
}
