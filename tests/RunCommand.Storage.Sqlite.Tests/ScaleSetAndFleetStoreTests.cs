using Microsoft.Data.Sqlite;

namespace RunCommand.Storage.Sqlite.Tests;

public sealed class ScaleSetAndFleetStoreTests : IAsyncLifetime
{
    private const string Subscription = "00000000-0000-0000-0000-000000000001";
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 4, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-store-").FullName;
    private readonly InProcessChangeFeed _changes = new();
    private SqliteRunCommandStore _store = null!;

    private string DatabaseFile => Path.Combine(_dir, "db.sqlite");

    public async Task InitializeAsync()
    {
        _store = new SqliteRunCommandStore(DatabaseFile, _changes);
        await _store.InitializeAsync(default);
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private Task<VmRecord> EnrollInstanceAsync(string scaleSet, byte token, IReadOnlyDictionary<string, string>? tags = null) =>
        _store.EnrollScaleSetInstanceAsync(Subscription, "Group", scaleSet, "local", [token], null, null, null, tags, Now, default);

    [Fact]
    public async Task EnrollScaleSetInstance_ThreeAgents_GetIdsZeroOneTwoAndTheCredentialFindsTheInstance()
    {
        var instances = new[] { await EnrollInstanceAsync("Web", 1), await EnrollInstanceAsync("web", 2), await EnrollInstanceAsync("WEB", 3) };

        Assert.Equal(["0", "1", "2"], instances.Select(i => i.Vm.VmName));
        Assert.All(instances, i => Assert.Equal("Web", i.Vm.ScaleSetName));
        Assert.EndsWith("/virtualMachineScaleSets/Web/virtualMachines/1", instances[1].Vm.ResourceId, StringComparison.Ordinal);
        Assert.Equal(instances[1].Vm, (await _store.FindVmByAgentTokenAsync([2], default))!.Vm);
        Assert.Equal(3, (await _store.GetScaleSetAsync(Subscription, "group", "web", default))!.InstanceCount);
        Assert.Equal(["0", "1", "2"], (await _store.ListScaleSetInstancesAsync(Subscription, "group", "web", default)).Select(i => i.Vm.VmName));
    }

    [Fact]
    public async Task ListVms_WithScaleSetInstances_ListsOnlyVmsWhileListMachinesListsBoth()
    {
        await _store.EnrollAgentAsync(new VmKey(Subscription, "Group", "vm1"), "local", [9], null, null, null, new Dictionary<string, string> { ["role"] = "web" }, Now, default);
        await EnrollInstanceAsync("ss", 1, new Dictionary<string, string> { ["role"] = "db" });

        Assert.Equal(["vm1"], (await _store.ListVmsAsync(Subscription, null, default)).Select(v => v.Vm.VmName));
        var machines = await _store.ListMachinesAsync(Subscription, "group", default);
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

        await _store.PutRunCommandAsync(write, "e1", "o1", Now, default);

        Assert.Equal(write.Command, (await _store.GetRunCommandAsync(write.Command, default))!.Command);
        var (_, work) = await _store.LeaseGoalStateAsync(instance, default);
        Assert.Equal(write.Command, Assert.Single(work).Command);
        Assert.Empty(await _store.ListRunCommandsAsync(instance with { VmName = "1" }, null, 25, default));
    }

    [Fact]
    public async Task Initialize_DatabaseFromBeforeScaleSets_AddsTheColumnAndKeepsItsVms()
    {
        SqliteConnection.ClearAllPools();
        await using (var connection = new SqliteConnection($"Data Source={DatabaseFile}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "DROP INDEX ix_vms_scale_set; ALTER TABLE vms DROP COLUMN scale_set; " +
                "INSERT INTO vms(key, subscription, resource_group, name, location, vm_id, created) VALUES('k', 's', 'g', 'old', 'local', 'id', '2026-01-01T00:00:00.0000000Z')";
            await command.ExecuteNonQueryAsync();
        }

        var reopened = new SqliteRunCommandStore(DatabaseFile, _changes);
        await reopened.InitializeAsync(default);

        var vm = Assert.Single(await reopened.ListVmsAsync("s", null, default));
        Assert.Null(vm.Vm.ScaleSetName);
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
            State = Contracts.Arm.FleetRunStates.Running,
            Targets = [new FleetTargetRecord { Ordinal = 0, Machine = machine }, new FleetTargetRecord { Ordinal = 1, Machine = machine with { VmName = "1" } }],
            Created = Now,
        };
        var woken = _changes.NextChangeAsync(Topics.Fleets);

        Assert.Equal(FleetCreateOutcome.Created, await _store.CreateFleetRunAsync(run, default));
        Assert.True(woken.IsCompleted);
        Assert.Equal(FleetCreateOutcome.Exists, await _store.CreateFleetRunAsync(run, default));
        await _store.RecordFleetTargetStartAsync(key, 0, "e1", null, default);
        await _store.SkipUnstartedFleetTargetsAsync(key, "too many errors", default);
        Assert.Single(await _store.ListActiveFleetRunsAsync(default));
        await _store.CompleteFleetRunAsync(key, Contracts.Arm.FleetRunStates.Failed, Now, default);

        var stored = (await _store.GetFleetRunAsync(key, default))!;
        Assert.Equal(Contracts.Arm.FleetRunStates.Failed, stored.State);
        Assert.Equal("e1", stored.Targets[0].ExecutionId);
        Assert.Equal(machine, stored.Targets[0].Machine);
        Assert.True(stored.Targets[1].NotStarted);
        Assert.Equal("too many errors", stored.Targets[1].Message);
        Assert.Empty(await _store.ListActiveFleetRunsAsync(default));
    }
}
