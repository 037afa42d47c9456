namespace RunCommand.Storage.Tests;

/// <summary>Versioned migrations and readiness on any backend: each script once, under a lock every node takes.</summary>
public abstract class MigrationContract<TBackends> : IAsyncLifetime
    where TBackends : IBackendFactory, new()
{
    private readonly TBackends _backends = new();
    private readonly List<IStorageBackend> _opened = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var backend in _opened)
        {
            await backend.DisposeAsync();
        }

        await _backends.DisposeAsync();
    }

    private async Task<IStorageBackend> OpenAsync()
    {
        var backend = await _backends.OpenAsync(new InProcessChangeFeed());
        _opened.Add(backend);
        return backend;
    }

    /// <summary>
    /// Lookups by execution id that run once per agent report or once per ended execution must not read their whole
    /// table: the first made every report of a fleet run cost in proportion to every run command ever kept
    /// (docs/performance.md, item 29).
    /// </summary>
    [Theory]
    [InlineData("SELECT r.name FROM run_commands r WHERE r.execution_id = 'e' AND r.deleting = TRUE")]
    [InlineData("SELECT 1 FROM fleet_targets f WHERE f.execution_id = 'e'")]
    [InlineData("SELECT 1 FROM deployment_operations d WHERE d.execution_id = 'e'")]
    [InlineData("DELETE FROM operations WHERE execution_id = 'e'")]
    [InlineData("SELECT execution_id FROM run_commands WHERE key IN ('a', 'b')")]
    public async Task Migrate_LookupsByExecution_FindTheirRowsWithoutReadingTheWholeTable(string sql)
    {
        await (await OpenAsync()).MigrateAsync(default);

        var (plan, readsWholeTable) = await _backends.ExplainAsync(sql);

        Assert.False(readsWholeTable, plan);
    }

    [Fact]
    public async Task CheckReadiness_BeforeAndAfterMigration_SaysWhetherTheSchemaIsThere()
    {
        var backend = await OpenAsync();

        var before = await backend.CheckReadinessAsync(default);
        await backend.MigrateAsync(default);
        var after = await backend.CheckReadinessAsync(default);

        Assert.False(before.Ready);
        Assert.NotNull(before.Reason);
        Assert.True(after.Ready, after.Reason);
        Assert.Equal(after.RequiredSchemaVersion, after.SchemaVersion);
        Assert.True(after.SchemaVersion >= 1);
    }

    [Fact]
    public async Task Migrate_TwoNodesAtTheSameMoment_EachScriptRunsOnceAndBothServe()
    {
        var first = await OpenAsync();
        var second = await OpenAsync();

        await Task.WhenAll(Task.Run(() => first.MigrateAsync(default)), Task.Run(() => second.MigrateAsync(default)));
        await first.MigrateAsync(default);

        var required = (await first.CheckReadinessAsync(default)).RequiredSchemaVersion;
        Assert.Equal(required, Convert.ToInt32(await _backends.ScalarAsync("SELECT count(*) FROM schema_version")));
        Assert.Equal(required, Convert.ToInt32(await _backends.ScalarAsync("SELECT count(DISTINCT version) FROM schema_version")));
        var vm = new VmKey("00000000-0000-0000-0000-000000000001", "g", "vm");
        await new RunCommandStorage(first).Machines.EnrollAgentAsync(vm, "local", new AgentCredential([1], null), null, null, null, DateTimeOffset.UnixEpoch, default);
        Assert.NotNull(await new RunCommandStorage(second).Machines.GetVmAsync(vm, default));
        Assert.True((await second.CheckReadinessAsync(default)).Ready);
    }

    [Fact]
    public async Task SetTokenHashIfAbsent_TwoNodesRacing_AgreeOnTheFirstHash()
    {
        var first = new RunCommandStorage(await OpenAsync());
        var second = new RunCommandStorage(await OpenAsync());
        await first.MigrateAsync(default);

        var results = await Task.WhenAll(
            Task.Run(() => first.Identity.SetTokenHashIfAbsentAsync("admin", [1], default)),
            Task.Run(() => second.Identity.SetTokenHashIfAbsentAsync("admin", [2], default)));

        Assert.Equal(results[0], results[1]);
        Assert.Equal(results[0], await second.Identity.GetTokenHashAsync("admin", default));
    }
}
