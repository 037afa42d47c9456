using System.Diagnostics;
using System.Text;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;
using Xunit.Abstractions;

namespace RunCommand.Faults.Tests;

/// <summary>The server is killed with SIGKILL while commands are in flight; the restarted one loses and repeats nothing.</summary>
public sealed class ServerKillTests(ITestOutputHelper output)
{
    private const int Agents = 20;
    private const int CommandsPerAgent = 10;

    [Fact]
    public async Task KillServer_With200CommandsInFlightAcross20Agents_EachEndsOnceWithItsTrueOutcomeAndFullOutput()
    {
        var clock = Stopwatch.StartNew();
        await using var stack = new FaultStack("kill");
        await stack.StartServerAsync();
        var vms = Enumerable.Range(0, Agents).Select(i => $"k{i}").ToList();
        await stack.StartAgentsAsync(vms);
        var ledger = new Ledger(Path.Combine(stack.Dir, "ledger"));
        var gate = Path.Combine(stack.Dir, "gate");

        // Each script: records itself, prints 50 lines, waits for the gate (so all are in flight at the kill), prints
        // 50 more and exits with a code of its own; a third of them end while the server is down.
        var commands = vms.SelectMany(vm => Enumerable.Range(0, CommandsPerAgent).Select(n => stack.Command(vm, $"c{n}"))).ToList();
        string IdOf(RunCommandRef c) => $"{c.VmName}-{c.Name}";
        int ExitOf(RunCommandRef c) => IdOf(c).Length % 3;
        string Script(RunCommandRef c) =>
            $"{ledger.Record(IdOf(c))}\n"
            + $"for n in $(seq 1 50); do echo \"{IdOf(c)} before $n\"; done\n"
            + $"{Gate.WaitFor(gate, 0.5)}\n"
            + $"for n in $(seq 1 50); do echo \"{IdOf(c)} after $n\"; done\n"
            + $"exit {ExitOf(c)}\n";
        string Expected(RunCommandRef c) =>
            string.Concat(Enumerable.Range(1, 50).Select(n => $"{IdOf(c)} before {n}\n"))
            + string.Concat(Enumerable.Range(1, 50).Select(n => $"{IdOf(c)} after {n}\n"));

        using (var throttle = new SemaphoreSlim(8))
        {
            await Task.WhenAll(commands.Select(async c =>
            {
                await throttle.WaitAsync();
                try
                {
                    await stack.PutAsync(c, Script(c));
                }
                finally
                {
                    throttle.Release();
                }
            }));
        }

        // In flight: every command accepted; kill once half of them run (the rest are still on their way).
        await Wait.UntilAsync(() => ledger.Entries.Count >= commands.Count / 2, TimeSpan.FromMinutes(3), "half of the scripts to start");
        var startedAtKill = ledger.Entries.Count;
        await stack.Server.Process.KillHardAsync();
        File.WriteAllText(gate, "");
        await stack.StartServerAsync();

        var views = await stack.WaitAllTerminalAsync(commands, TimeSpan.FromMinutes(5));

        foreach (var c in commands)
        {
            var view = views[$"{c.VmName}/{c.Name}"];
            var exit = ExitOf(c);
            Assert.True(exit == 0 ? view.ExecutionState == ExecutionStates.Succeeded : view.ExecutionState == ExecutionStates.Failed, $"{IdOf(c)} ended {view.ExecutionState}: {view.ExecutionMessage}");
            Assert.Equal(exit, view.ExitCode);
            Assert.Equal(Expected(c), Encoding.UTF8.GetString(await Stack.ReadAllStdoutAsync(stack.Client, c)));
        }

        ledger.AssertEachOnce(commands.Select(IdOf));
        output.WriteLine($"server kill: {commands.Count} commands accepted across {Agents} agents, {startedAtKill} running at the kill, 1 fault survived, 0 lost, 0 run twice, {clock.Elapsed.TotalSeconds:F0} s");
    }
}
