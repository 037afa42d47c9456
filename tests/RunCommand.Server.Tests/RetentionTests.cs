using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Hosting;
using RunCommand.Storage;
using RunCommand.Storage.Sqlite;

namespace RunCommand.Server.Tests;

/// <summary>The retention pass over a real SQLite file, with a clock the test moves.</summary>
public sealed class RetentionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-retention-").FullName;
    private readonly ManualTime _time = new(Start);
    private SqliteRunCommandStore _store = null!;

    private string DatabaseFile => Path.Combine(_dir, "db.sqlite");

    public async Task InitializeAsync()
    {
        _store = new SqliteRunCommandStore(DatabaseFile, new InProcessChangeFeed());
        await _store.InitializeAsync(default);
    }

    public Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task RunOnce_OutputOlderThanTheDefault30Days_IsDeletedAndTheFileShrinks()
    {
        var vm = new VmKey("00000000-0000-0000-0000-000000000001", "g", "vm");
        await _store.EnrollAgentAsync(vm, "local", [1], null, "h", "1", null, Start, default);
        var write = new RunCommandWrite { Command = new RunCommandKey(vm, "big"), Location = "local", Spec = new RunCommandSpec { Script = "x" }, Fingerprint = "f", MaxRunCommandsPerVm = 25 };
        var id = (await _store.PutRunCommandAsync(write, "op", "exec-1", Start, default)).Record!.Execution.ExecutionId;
        await _store.LeaseGoalStateAsync(vm, default);
        var data = new byte[4 * 1024 * 1024];
        Random.Shared.NextBytes(data);
        await _store.RecordReportAsync(vm, new ReportWrite { ExecutionId = id, State = ExecutionStates.Succeeded, ExitCode = 0, EndTime = Start, StdoutOffset = 0, StdoutData = data }, Start, default);
        var retention = new Retention(_store, _time, Options.Create(new ServerOptions()), NullLogger<Retention>.Instance);

        _time.Now = Start.AddDays(29);
        var early = await retention.RunOnceAsync(default);
        var sizeBefore = new FileInfo(DatabaseFile).Length;
        _time.Now = Start.AddDays(31);
        var due = await retention.RunOnceAsync(default);
        var sizeAfter = new FileInfo(DatabaseFile).Length;

        Assert.Equal(0, early.OutputBytes);
        Assert.Equal(data.Length, due.OutputBytes);
        Assert.Empty(await _store.ReadOutputAsync(id, OutputStream.Stdout, 0, data.Length, default));
        Assert.True(sizeBefore - sizeAfter > data.Length / 2, $"the database file went from {sizeBefore} to {sizeAfter} bytes");
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
