using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Data.Sqlite;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;
using Xunit.Abstractions;

namespace RunCommand.Faults.Tests;

/// <summary>The server's data dir (a small tmpfs) fills up while a command runs, then space returns.</summary>
public sealed class ServerDiskFullTests(ITestOutputHelper output)
{
    [Fact]
    public async Task DiskFull_WhileACommandReports_Answers507KeepsStoredDataAndTheCommandEndsTrueOnceSpaceReturns()
    {
        var clock = Stopwatch.StartNew();
        await using var stack = new FaultStack("diskfull");
        await stack.MountTmpfsAsync(stack.DataDir, 64);
        await stack.StartServerAsync();
        await stack.StartAgentsAsync(["full"]);
        var gate = Path.Combine(stack.Dir, "gate");

        // Stored before the disk fills: must read back the same afterwards.
        var before = stack.Command("full", "before");
        await stack.PutAsync(before, "for n in $(seq 1 2000); do echo \"kept $n\"; done");
        await stack.WaitAllTerminalAsync([before], TimeSpan.FromMinutes(2));
        var keptOutput = await Stack.ReadAllStdoutAsync(stack.Client, before);

        // Running when the disk fills; once let go it prints about 12 MB, more than the database can take then.
        var big = stack.Command("full", "big");
        const string bigScript = "echo started; WAIT_FOR_GATE; seq 1 1500000; exit 4";
        await stack.PutAsync(big, bigScript.Replace("WAIT_FOR_GATE", Gate.WaitFor(gate, 0.1), StringComparison.Ordinal));
        await Wait.UntilAsync(async () => (await stack.Client.GetAsync(big, expandInstanceView: true)).Properties!.InstanceView!.ExecutionState == ExecutionStates.Running,
            TimeSpan.FromMinutes(1), "the big command to run");

        var ballast = Path.Combine(stack.DataDir, "ballast");
        var filled = FaultStack.FillDisk(ballast);
        File.WriteAllText(gate, "");

        // The agent's output (raw uploads, docs/agent-protocol.md) is refused (507, logged as storage full, never as an
        // unhandled error) ...
        await Wait.UntilAsync(() => stack.Server.Process.Output.Contains("Storage full: PUT /agent/v1/executions/", StringComparison.Ordinal), TimeSpan.FromMinutes(2), "an agent upload to be refused for lack of space");
        // ... and so is a new command, with an ARM error a client can read.
        var refused = await Wait.UntilAsync(async () =>
        {
            try
            {
                await stack.PutAsync(stack.Command("full", $"late{Guid.NewGuid():N}"[..12]), "echo late");
                return null;
            }
            catch (ArmRequestException e)
            {
                return e;
            }
        }, TimeSpan.FromMinutes(1), "a PUT to be refused for lack of space");
        Assert.Equal(HttpStatusCode.InsufficientStorage, refused.StatusCode);
        Assert.Equal("InsufficientStorage", refused.Error.Code);
        Assert.Equal(ExecutionStates.Running, (await stack.Client.GetAsync(big, expandInstanceView: true)).Properties!.InstanceView!.ExecutionState);
        Assert.Equal(keptOutput, await Stack.ReadAllStdoutAsync(stack.Client, before));

        // Space returns: the agent's retries get through and the command ends with its true state and all its output.
        File.Delete(ballast);
        var view = (await stack.WaitAllTerminalAsync([big], TimeSpan.FromMinutes(3)))["full/big"];

        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Equal(4, view.ExitCode);
        var expected = "started\n" + string.Concat(Enumerable.Range(1, 1500000).Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n"));
        Assert.Equal(expected, Encoding.ASCII.GetString(await Stack.ReadAllStdoutAsync(stack.Client, big)));
        Assert.Equal(keptOutput, await Stack.ReadAllStdoutAsync(stack.Client, before));
        Assert.DoesNotContain("Unhandled error", stack.Server.Process.Output, StringComparison.Ordinal);
        Assert.False(stack.Server.Process.HasExited, "the server stayed up");

        // The database file itself is sound.
        await stack.Server.Process.StopAsync();
        Assert.Equal("ok", IntegrityCheck(Path.Combine(stack.DataDir, "runcommand.db")));
        output.WriteLine($"server disk full: {filled / (1024 * 1024)} MB ballast, 1 command running through it, 0 lost, {clock.Elapsed.TotalSeconds:F0} s");
    }

    private static string IntegrityCheck(string database)
    {
        using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        return (string)command.ExecuteScalar()!;
    }
}
