using Microsoft.Data.Sqlite;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Deleted output is gone from both disks (issue 12): deleting run commands removes their rows from the server's
/// database, which then shrinks at the next retention pass, and their directories from the agent's state dir (a
/// running one once the agent has killed it). Real server, agent and SQLite file (so not in test.sh's PostgreSQL pass;
/// the same rules on PostgreSQL are RetentionOnPostgres in the storage tests).
/// </summary>
public sealed class RetentionTests : IAsyncLifetime
{
    private Stack _stack = null!;

    public async Task InitializeAsync() => _stack = await Stack.StartAsync("retention", serverArgs: ["--retention-interval", "00:00:01"]);

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    private string DatabaseFile => Path.Combine(_stack.Server.DataDir, "runcommand.db");

    private long StoredBytes() => SqliteStoreFiles.BytesOnDisk(DatabaseFile);

    private async Task<long> CountAsync(string table)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabaseFile};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table}";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Delete_FinishedAndRunningCommands_RemovesTheirRowsAndAgentFilesAndTheStoreShrinks()
    {
        var agent = await _stack.StartAgentAsync("forgetful");
        var big = _stack.Command("forgetful", "big");
        var sleeper = _stack.Command("forgetful", "sleeper");
        // 8 MB of base64 text: random, so neither disk can make it small.
        var done = await _stack.RunAsync(big, Stack.Script("head -c 6000000 /dev/urandom | base64 -w 0; echo; echo done"));
        Assert.Equal(ExecutionStates.Succeeded, done.Properties!.InstanceView!.ExecutionState);
        await _stack.StartAsync(sleeper, Stack.Script("echo self $$; sleep 600"));
        var view = await _stack.WaitForStateAsync(sleeper, v => v.Output?.StartsWith("self ", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(30), "the sleeper to run");
        var pid = int.Parse(view.Output!["self ".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var executions = Path.Combine(agent.StateDir, "executions");
        Assert.Equal(2, Directory.GetDirectories(executions).Length);
        var held = StoredBytes();
        var agentHeld = Directory.GetFiles(executions, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(held > 8_000_000, $"the store holds only {held} bytes on disk");

        foreach (var target in new[] { big, sleeper })
        {
            await _stack.Client.WaitForOperationAsync((await _stack.Client.DeleteAsync(target))!);
        }

        await Wait.UntilAsync(() => Directory.GetDirectories(executions).Length == 0, TimeSpan.FromSeconds(90), "the agent to delete the directories of both executions");
        Assert.False(Processes.IsAlive(pid), "the deleted running script still runs");
        await Wait.UntilAsync(async () => await CountAsync("forgotten_executions") == 0, TimeSpan.FromSeconds(30), "the agent to acknowledge both");
        Assert.Equal(0, await CountAsync("executions"));
        Assert.Equal(0, await CountAsync("output"));
        await Wait.UntilAsync(() => StoredBytes() < held - 6_000_000, TimeSpan.FromSeconds(60), $"the store ({held} bytes on disk) to shrink at a retention pass");
        Console.WriteLine($"retention figures: store {held} -> {StoredBytes()} bytes; agent executions {agentHeld} -> 0 bytes");
    }
}
