using System.Diagnostics;
using System.Globalization;
using System.Text;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;
using Xunit.Abstractions;

namespace RunCommand.Faults.Tests;

/// <summary>Agents lose the server for minutes (a partition by a TCP proxy) while their scripts run, end and time out.</summary>
public sealed class PartitionTests(ITestOutputHelper output)
{
    private const int Agents = 5;

    /// <summary>
    /// How long the partition lasts: 2 minutes as issue 12 asks (longer than the agent's 60 s request timeout and its
    /// 30 s longest back-off, so every connection dies and is made again); RUNCMD_PARTITION_SECONDS overrides it.
    /// </summary>
    private static int PartitionSeconds =>
        int.TryParse(Environment.GetEnvironmentVariable("RUNCMD_PARTITION_SECONDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 120;

    [Fact]
    public async Task Partition_AgentsCutOffWhileScriptsRun_EverythingArrivesAfterTheHealOnceAndNothingStaysRunning()
    {
        var clock = Stopwatch.StartNew();
        var partition = PartitionSeconds;
        await using var stack = new FaultStack("partition");
        await stack.StartServerAsync();
        await using var proxy = new TcpProxy(stack.Port);
        var vms = Enumerable.Range(0, Agents).Select(i => $"p{i}").ToList();
        await stack.StartAgentsAsync(vms, serverUrl: proxy.Url);
        var ledger = new Ledger(Path.Combine(stack.Dir, "ledger"));

        // Per agent: one script that ends during the partition, one that outlives it, one that times out in it.
        var endsDuring = partition / 3;
        var endsAfter = partition + 15;
        var kinds = new (string Name, int Lines, int Exit, int Timeout)[]
        {
            ("during", endsDuring, 0, 0),
            ("after", endsAfter, 3, 0),
            ("timeout", 100000, 0, Math.Max(5, partition / 2)),
        };
        string IdOf(RunCommandRef c) => $"{c.VmName}-{c.Name}";
        string Script(RunCommandRef c, int lines, int exit) =>
            $"{ledger.Record(IdOf(c))}\nfor n in $(seq 1 {lines}); do echo \"{IdOf(c)} $n\"; sleep 1; done\nexit {exit}\n";
        var planned = new List<(RunCommandRef Command, int Lines, int Exit, int Timeout)>();
        foreach (var vm in vms)
        {
            foreach (var (name, lines, exit, timeout) in kinds)
            {
                var command = stack.Command(vm, name);
                planned.Add((command, lines, exit, timeout));
                await stack.PutAsync(command, Script(command, lines, exit), timeout);
            }
        }

        await Wait.UntilAsync(() => ledger.Entries.Count == planned.Count, TimeSpan.FromMinutes(2), "every script to start");
        await Wait.UntilAsync(async () =>
        {
            foreach (var vm in vms)
            {
                if ((await stack.Client.ListAsync(stack.Vm(vm), expandInstanceView: true)).Any(r => r.Properties!.InstanceView!.ExecutionState != ExecutionStates.Running))
                {
                    return false;
                }
            }

            return true;
        }, TimeSpan.FromMinutes(1), "the server to show every script Running");
        proxy.Partition();
        var partitionedAt = clock.Elapsed;

        // Accepted while the agents cannot hear of it: delivered after the heal.
        var late = vms.Select(vm => stack.Command(vm, "late")).ToList();
        foreach (var command in late)
        {
            planned.Add((command, 3, 0, 0));
            await stack.PutAsync(command, Script(command, 3, 0));
        }

        // Meanwhile the server knows nothing new: nothing it showed Running has been given up on.
        await Task.Delay(TimeSpan.FromSeconds(partition));
        foreach (var (command, _, _, _) in planned.Where(p => p.Command.Name != "late"))
        {
            var state = (await stack.Client.GetAsync(command, expandInstanceView: true)).Properties!.InstanceView!.ExecutionState;
            Assert.True(state == ExecutionStates.Running, $"{IdOf(command)} showed {state} during the partition");
        }

        proxy.Heal();
        var healedAt = clock.Elapsed;
        var views = await stack.WaitAllTerminalAsync([.. planned.Select(p => p.Command)], TimeSpan.FromMinutes(4));
        var settledAfterHeal = clock.Elapsed - healedAt;

        foreach (var (command, lines, exit, timeout) in planned)
        {
            var view = views[$"{command.VmName}/{command.Name}"];
            var text = Encoding.UTF8.GetString(await Stack.ReadAllStdoutAsync(stack.Client, command));
            if (timeout > 0)
            {
                Assert.Equal(ExecutionStates.TimedOut, view.ExecutionState);
                // Every line printed before the agent killed it, in order, none twice.
                var printed = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal(Enumerable.Range(1, printed.Length).Select(n => $"{IdOf(command)} {n}"), printed);
                Assert.True(printed.Length >= timeout / 2, $"{IdOf(command)} printed only {printed.Length} lines in its {timeout} s");
            }
            else
            {
                Assert.Equal(exit == 0 ? ExecutionStates.Succeeded : ExecutionStates.Failed, view.ExecutionState);
                Assert.Equal(exit, view.ExitCode);
                Assert.Equal(string.Concat(Enumerable.Range(1, lines).Select(n => $"{IdOf(command)} {n}\n")), text);
            }
        }

        ledger.AssertEachOnce(planned.Select(p => IdOf(p.Command)));
        output.WriteLine(
            $"partition: {planned.Count} commands on {Agents} agents, partitioned {partition} s (from {partitionedAt.TotalSeconds:F0} s), "
            + $"all settled {settledAfterHeal.TotalSeconds:F0} s after the heal, {proxy.Connections} connections through the proxy, 0 lost, 0 doubled, "
            + $"{clock.Elapsed.TotalSeconds:F0} s");
    }
}
