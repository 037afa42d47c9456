using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RunCommand.Server.Hosting;
using RunCommand.Storage;
using RunCommand.Testing;

namespace RunCommand.Server.Tests.Hosting;

/// <summary>The server's retention pass with its options, over a real SQLite file, with a clock the test moves.</summary>
public sealed class RetentionTests() : SqliteStoreTests("rc-retention-")
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly ManualTime _time = new(Start);
    private readonly VmKey _vm = new("00000000-0000-0000-0000-000000000001", "g", "vm");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Storage.Machines.EnrollAgentAsync(_vm, "local", new AgentCredential([1], null), "h", "1", null, Start, default);
    }

    private async Task<string> FinishedAsync(string name, int bytes, TimeSpan? endedAfterStart = null)
    {
        var end = Start + (endedAfterStart ?? TimeSpan.Zero);
        var write = new RunCommandWrite { Command = new RunCommandKey(_vm, name), Location = "local", Spec = new RunCommandSpec { Script = "x" }, Fingerprint = name, MaxRunCommandsPerVm = 25 };
        var id = (await Storage.RunCommands.PutRunCommandAsync(write, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Start, default)).Record!.Execution.ExecutionId;
        await Storage.AgentWork.LeaseGoalStateAsync(_vm, default);
        var data = new byte[bytes];
        Random.Shared.NextBytes(data);
        await Storage.AgentWork.RecordReportAsync(_vm, new ReportWrite
        {
            ExecutionId = id, State = ExecutionState.Succeeded, ExitCode = 0, EndTime = end, StdoutOffset = 0, StdoutData = data,
        }, end, default);
        return id;
    }

    private Retention Pass(ServerOptions options) =>
        new(Storage.Retention, _time, Options.Create(options), NullLogger<Retention>.Instance);

    private long StoredBytes() => SqliteStoreFiles.BytesOnDisk(DatabaseFile);

    [Fact]
    public async Task RunOnce_OutputOlderThanTheRetentionDays_IsDeletedAndTheSpaceComesBack()
    {
        var id = await FinishedAsync("big", 4 * 1024 * 1024);
        var pass = Pass(new ServerOptions { ExecutionRetentionDays = 30 });

        _time.Now = Start.AddDays(29);
        var early = await pass.RunOnceAsync(default);
        var sizeBefore = StoredBytes();
        _time.Now = Start.AddDays(31);
        var due = await pass.RunOnceAsync(default);
        var sizeAfter = StoredBytes();

        Assert.Equal(PruneOutcome.None, early);
        Assert.Equal(4 * 1024 * 1024, due.OutputBytes);
        Assert.Empty(await Storage.RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 0, 100, default));
        Assert.True(sizeBefore - sizeAfter > 3 * 1024 * 1024, $"the store went from {sizeBefore} to {sizeAfter} bytes on disk");
    }

    [Fact]
    public async Task RunOnce_OverMaxOutputBytes_DeletesTheOldestOutputFirst()
    {
        var older = await FinishedAsync("older", 1024 * 1024);
        var newer = await FinishedAsync("newer", 1024 * 1024, TimeSpan.FromMinutes(1));
        var pass = Pass(new ServerOptions { MaxOutputBytes = 1024 * 1024 });

        var outcome = await pass.RunOnceAsync(default);

        Assert.Equal(1024 * 1024, outcome.OutputBytes);
        Assert.Empty(await Storage.RunCommands.ReadOutputAsync(older, OutputStream.Stdout, 0, 100, default));
        Assert.Equal(100, (await Storage.RunCommands.ReadOutputAsync(newer, OutputStream.Stdout, 0, 100, default)).Length);
    }
}
