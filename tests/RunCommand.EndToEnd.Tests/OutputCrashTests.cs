using System.Text;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// The server is killed (SIGKILL) while an agent streams a large output to it in raw uploads, several write batches
/// in flight: the restarted server and the retrying agent keep every byte once, in order.
/// </summary>
public sealed class OutputCrashTests : IAsyncLifetime
{
    private readonly TestScope _scope = new("rc-output-crash-");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _scope.DisposeAsync();

    [Fact]
    public async Task KillServer_WhileLargeOutputUploads_RestartedServerKeepsEveryByteOnceInOrder()
    {
        var dataDir = Path.Combine(_scope.Dir, "server");
        var port = ServerProcess.FreePort();
        var server = _scope.Track(await ServerProcess.StartAsync(dataDir, port: port));
        _scope.Track(await AgentProcess.StartAsync(server, "crashvm", "crash", Path.Combine(_scope.Dir, "agent")));
        var work = Path.Combine(_scope.Dir, "work");
        Directory.CreateDirectory(work);
        var gate = Path.Combine(work, "gate");
        // About 39 MB of numbered lines (order-sensitive), then the gate, then about 10 MB more.
        const int Lines = 5_000_000;
        const int More = 1_200_000;
        var script = $"seq 1 {Lines}; {Gate.WaitFor(gate)}; seq {Lines + 1} {Lines + More}";
        var target = new RunCommandRef(server.SubscriptionId, "crash", "crashvm", "big");
        using (var client = Client(server))
        {
            await client.CreateOrUpdateAsync(target, Stack.Script(script));
            // Killed as soon as the server holds 8 MiB of it: the agent is then uploading the rest of the first part
            // (8 MiB a request, stored 4 MiB a transaction while the next 4 MiB is read).
            await Wait.UntilAsync(async () => (await client.GetLogsAsync(target, 8 << 20, long.MaxValue / 2, 0)).Stdout.Data.Length > 0,
                TimeSpan.FromMinutes(2), "the server to hold 8 MiB of stdout");
        }

        await server.Process.KillHardAsync();
        var again = _scope.Track(await ServerProcess.StartAsync(dataDir, port: port));
        File.WriteAllText(gate, "");
        using var after = Client(again);
        var view = await Wait.UntilAsync(async () =>
        {
            var current = (await after.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
            return ExecutionStates.IsTerminal(current.ExecutionState!) ? current : null;
        }, TimeSpan.FromMinutes(4), "the run to end after the restart");

        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        var expected = new StringBuilder();
        for (var n = 1; n <= Lines + More; n++)
        {
            expected.Append(n).Append('\n');
        }

        var stdout = await Stack.ReadAllStdoutAsync(after, target);
        Assert.Equal(Encoding.ASCII.GetByteCount(expected.ToString()), stdout.Length);
        Assert.True(Encoding.ASCII.GetBytes(expected.ToString()).AsSpan().SequenceEqual(stdout), "the stored stdout differs from the script's");
    }

    private static RunCommandClient Client(ServerProcess server) => new(new RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken });
}
