using RunCommand.Contracts.Arm;

namespace RunCommand.Storage.Sqlite.Tests;

/// <summary>Retention in the SQLite store: deleted and old output goes, and the file gives the space back.</summary>
public sealed class RetentionStoreTests : IAsyncLifetime
{
    private const int OutputBytes = 1024 * 1024;
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 4, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-retention-").FullName;
    private readonly VmKey _vm = new("00000000-0000-0000-0000-000000000001", "Group", "Vm1");
    private SqliteRunCommandStore _store = null!;

    private string DatabaseFile => Path.Combine(_dir, "db.sqlite");

    public async Task InitializeAsync()
    {
        _store = new SqliteRunCommandStore(DatabaseFile, new InProcessChangeFeed());
        await _store.InitializeAsync(default);
        await _store.EnrollAgentAsync(_vm, "local", [1, 2, 3], null, "host", "1.0", null, Now, default);
    }

    public Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>Creates a run command whose execution ended at <paramref name="endedAt"/> with 1 MiB of output.</summary>
    private async Task<(RunCommandKey Command, string ExecutionId)> FinishedAsync(string name, DateTimeOffset endedAt)
    {
        var command = new RunCommandKey(_vm, name);
        var write = new RunCommandWrite { Command = command, Location = "local", Spec = new RunCommandSpec { Script = "x" }, Fingerprint = name, MaxRunCommandsPerVm = 1000 };
        var outcome = await _store.PutRunCommandAsync(write, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), endedAt, default);
        var id = outcome.Record!.Execution.ExecutionId;
        await _store.LeaseGoalStateAsync(_vm, default);
        var data = new byte[OutputBytes];
        Random.Shared.NextBytes(data);
        await _store.RecordReportAsync(_vm, new ReportWrite
        {
            ExecutionId = id, State = ExecutionStates.Succeeded, ExitCode = 0, StartTime = endedAt, EndTime = endedAt, StdoutOffset = 0, StdoutData = data,
        }, endedAt, default);
        return (command, id);
    }

    private async Task<long> CompactedSizeAsync()
    {
        await _store.CompactAsync(default);
        return new FileInfo(DatabaseFile).Length + (File.Exists(DatabaseFile + "-wal") ? new FileInfo(DatabaseFile + "-wal").Length : 0);
    }

    [Fact]
    public async Task DeleteRunCommand_Finished_RemovesItsOutputAndTheFileShrinks()
    {
        var commands = new List<(RunCommandKey Command, string ExecutionId)>();
        for (var i = 0; i < 10; i++)
        {
            commands.Add(await FinishedAsync($"c{i}", Now));
        }

        var full = await CompactedSizeAsync();
        foreach (var (command, _) in commands)
        {
            await _store.DeleteRunCommandAsync(command, Guid.NewGuid().ToString(), Now, default);
        }

        var after = await CompactedSizeAsync();

        Assert.True(full > 10L * OutputBytes, $"the database held {full} bytes");
        Assert.True(after < full / 10, $"after deleting every run command the file still holds {after} of {full} bytes");
        Assert.All(commands, c => Assert.Empty(_store.ReadOutputAsync(c.ExecutionId, OutputStream.Stdout, 0, OutputBytes, default).Result));
    }

    [Fact]
    public async Task Prune_EndedBeforeTheCutoff_RemovesTheirOutputAndKeepsNewerOnes()
    {
        var old = await FinishedAsync("old", Now.AddDays(-40));
        var recent = await FinishedAsync("recent", Now.AddDays(-1));
        var before = await CompactedSizeAsync();

        var outcome = await _store.PruneAsync(Now.AddDays(-30), long.MaxValue, default);
        var after = await CompactedSizeAsync();

        Assert.Equal(OutputBytes, outcome.OutputBytes);
        Assert.Empty(await _store.ReadOutputAsync(old.ExecutionId, OutputStream.Stdout, 0, OutputBytes, default));
        Assert.Equal(OutputBytes, (await _store.ReadOutputAsync(recent.ExecutionId, OutputStream.Stdout, 0, OutputBytes, default)).Length);
        Assert.True(before - after > OutputBytes / 2, $"the file went from {before} to {after} bytes");
    }

    [Fact]
    public async Task Prune_OverTheBudget_RemovesTheOldestOutputFirstUntilWithin()
    {
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await FinishedAsync($"b{i}", Now.AddHours(-10 + i))).ExecutionId);
        }

        var outcome = await _store.PruneAsync(Now.AddDays(-30), 2L * OutputBytes, default);

        Assert.Equal(3L * OutputBytes, outcome.OutputBytes);
        var kept = new List<int>();
        foreach (var id in ids)
        {
            kept.Add((await _store.ReadOutputAsync(id, OutputStream.Stdout, 0, OutputBytes, default)).Length);
        }

        Assert.Equal([0, 0, 0, OutputBytes, OutputBytes], kept);
    }

    [Fact]
    public async Task Prune_RunningExecution_IsNeverTouched()
    {
        var command = new RunCommandKey(_vm, "live");
        var write = new RunCommandWrite { Command = command, Location = "local", Spec = new RunCommandSpec { Script = "x" }, Fingerprint = "live", MaxRunCommandsPerVm = 1000 };
        var id = (await _store.PutRunCommandAsync(write, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Now.AddDays(-90), default)).Record!.Execution.ExecutionId;
        await _store.LeaseGoalStateAsync(_vm, default);
        await _store.RecordReportAsync(_vm, new ReportWrite { ExecutionId = id, State = ExecutionStates.Running, StartTime = Now.AddDays(-90), StdoutOffset = 0, StdoutData = new byte[1000] }, Now.AddDays(-90), default);

        var outcome = await _store.PruneAsync(Now, 0, default);

        Assert.Equal(0, outcome.OutputBytes);
        Assert.Equal(1000, (await _store.ReadOutputAsync(id, OutputStream.Stdout, 0, OutputBytes, default)).Length);
    }
}
