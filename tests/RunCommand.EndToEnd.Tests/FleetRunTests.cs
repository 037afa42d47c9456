using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>One server and twenty agents tagged <c>fleet=e2e</c>, shared by the fleet tests (each test makes its own run).</summary>
public sealed class FleetFixture : IAsyncLifetime
{
    public const int AgentCount = 20;

    public Stack Stack { get; private set; } = null!;

    public IReadOnlyList<AgentProcess> Agents { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Stack = await Stack.StartAsync("fleet");
        Agents = await Stack.StartAgentsAsync(Enumerable.Range(0, AgentCount).Select(i => $"node{i:00}"), new Dictionary<string, string> { ["fleet"] = "e2e" });
    }

    public async Task DisposeAsync() => await Stack.DisposeAsync();
}

/// <summary>Fleet runs over real agents: rate control, error budget, cancel, output per machine.</summary>
public sealed class FleetRunTests(FleetFixture fixture) : IClassFixture<FleetFixture>
{
    private readonly Stack _stack = fixture.Stack;

    private FleetRunRef Run(string name) => new(_stack.Server.SubscriptionId, "e2e", name);

    private static FleetRunResource Definition(string script, string maxConcurrency, string? maxErrors = null) => new()
    {
        Location = "local",
        Properties = new FleetRunProperties
        {
            Targets = new FleetTargets { Tags = new Dictionary<string, string> { ["fleet"] = "e2e" } },
            Source = new RunCommandSource { Script = script },
            MaxConcurrency = maxConcurrency,
            MaxErrors = maxErrors,
        },
    };

    private async Task<FleetRunResource> WaitForEndAsync(FleetRunRef run) =>
        await Wait.UntilAsync(async () =>
        {
            var view = await _stack.Client.GetFleetRunAsync(run, waitSeconds: 10);
            return FleetRunStates.IsTerminal(view.Properties!.ProvisioningState!) ? view : null;
        }, TimeSpan.FromMinutes(5), $"fleet run {run.Name} to end");

    [Fact]
    public async Task FleetRun_MaxConcurrencyFive_NeverRunsMoreThanFiveAtOnce()
    {
        var run = Run("conc5");
        await _stack.Client.CreateFleetRunAsync(run, Definition("sleep 1; echo done on $(hostname)", "5"));

        var view = await WaitForEndAsync(run);

        var instance = view.Properties!.InstanceView!;
        Assert.Equal(FleetRunStates.Succeeded, view.Properties.ProvisioningState);
        Assert.Equal(FleetFixture.AgentCount, instance.Counts[ExecutionStates.Succeeded]);
        Assert.Equal(FleetFixture.AgentCount, instance.Targets.Select(t => t.ResourceId).Distinct().Count());
        Assert.All(instance.Targets, t => Assert.StartsWith("done on ", t.Output, StringComparison.Ordinal));
        var spans = instance.Targets.Select(t => (Start: t.StartTime!.Value, End: t.EndTime!.Value)).ToList();
        var mostAtOnce = spans.Max(s => spans.Count(o => o.Start <= s.Start && s.Start < o.End));
        Assert.InRange(mostAtOnce, 2, 5); // at most five, and truly in parallel
    }

    [Fact]
    public async Task FleetRun_MaxErrorsTwoAndEveryTargetFails_StopsStartingAfterTheThirdFailure()
    {
        var run = Run("errors2");
        await _stack.Client.CreateFleetRunAsync(run, Definition("echo failing >&2; exit 7", "1", "2"));

        var view = await WaitForEndAsync(run);

        var instance = view.Properties!.InstanceView!;
        Assert.Equal(FleetRunStates.Failed, view.Properties.ProvisioningState);
        Assert.Equal(3, instance.Counts[ExecutionStates.Failed]);
        Assert.Equal(FleetFixture.AgentCount - 3, instance.Counts[FleetTargetStates.NotStarted]);
        Assert.Equal(0, instance.Counts[ExecutionStates.Succeeded] + instance.Counts[ExecutionStates.Running] + instance.Counts[ExecutionStates.Pending]);
        Assert.All(instance.Targets.Where(t => t.State == ExecutionStates.Failed), t => Assert.Equal(7, t.ExitCode));
        // The view says how much output each target has: here its tails are all of it.
        Assert.All(instance.Targets.Where(t => t.State == ExecutionStates.Failed), t => Assert.Equal((0L, 8L), (t.OutputLength, t.ErrorLength)));
        // The full output is on each target's own run command.
        var first = instance.Targets.First(t => t.State == ExecutionStates.Failed);
        var vmName = first.ResourceId[(first.ResourceId.LastIndexOf('/') + 1)..];
        var command = await _stack.Client.GetAsync(_stack.Command(vmName, view.Properties.RunCommandName!), expandInstanceView: true);
        Assert.Equal("failing\n", command.Properties!.InstanceView!.Error);
    }

    [Fact]
    public async Task FleetRun_ATargetCannotStartInABatch_MaxErrorsZeroStartsNoTargetAfterIt()
    {
        // One machine is filled up to Azure's maximum of 25 run commands (earlier runs of this class left theirs too), so
        // its target fails when the run starts it. All targets are in one start batch (maxConcurrency 100%): the batch
        // must stop there so that maxErrors 0 holds.
        const string full = "node07";
        var fillers = new List<RunCommandRef>();
        try
        {
            for (var i = 0; i < 25; i++)
            {
                var filler = _stack.Command(full, $"filler{i:00}");
                try
                {
                    await _stack.StartAsync(filler, Stack.Script("true"));
                }
                catch (ArmRequestException e) when (e.Message.Contains("maximum of 25", StringComparison.Ordinal))
                {
                    break;
                }

                fillers.Add(filler);
            }

            var run = Run("startfail");
            await _stack.Client.CreateFleetRunAsync(run, Definition("echo ok", "100%", "0"));
            var view = await WaitForEndAsync(run);

            var targets = view.Properties!.InstanceView!.Targets.ToList();
            var failed = targets.FindIndex(t => t.ResourceId.EndsWith("/" + full, StringComparison.Ordinal));
            Assert.Equal(FleetRunStates.Failed, view.Properties.ProvisioningState);
            Assert.Equal(ExecutionStates.Failed, targets[failed].State);
            Assert.Contains("maximum of 25 run commands", targets[failed].Message, StringComparison.Ordinal);
            Assert.All(targets.Take(failed), t => Assert.Equal(ExecutionStates.Succeeded, t.State));
            Assert.All(targets.Skip(failed + 1), t => Assert.Equal(FleetTargetStates.NotStarted, t.State));
        }
        finally
        {
            foreach (var filler in fillers)
            {
                await _stack.Client.DeleteAsync(filler);
            }
        }
    }

    [Fact]
    public async Task FleetRun_Canceled_StopsRunningTargetsAndStartsNoMore()
    {
        var run = Run("cancel");
        await _stack.Client.CreateFleetRunAsync(run, Definition("sleep 600", "2"));
        await Wait.UntilAsync(async () =>
            (await _stack.Client.GetFleetRunAsync(run)).Properties!.InstanceView!.Counts[ExecutionStates.Running] == 2,
            TimeSpan.FromMinutes(1), "two targets to run");

        await _stack.Client.CancelFleetRunAsync(run);
        var view = await WaitForEndAsync(run);

        var counts = view.Properties!.InstanceView!.Counts;
        Assert.Equal(FleetRunStates.Canceled, view.Properties.ProvisioningState);
        Assert.Equal(2, counts[ExecutionStates.Canceled]);
        Assert.Equal(FleetFixture.AgentCount - 2, counts[FleetTargetStates.NotStarted]);
    }

    [Fact]
    public async Task CliFleetCreate_TagsSetByVmUpdate_PrintsOutputGroupedByMachineAndExitsNonZeroOnFailure()
    {
        var cli = new CliRunner(Path.Combine(_stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(_stack.Server);
        foreach (var vm in new[] { "node00", "node01" })
        {
            var updated = await cli.RunAsync("vm", "update", "-g", "e2e", "-n", vm, "--set", "tags.role=web");
            Assert.True(updated.ExitCode == 0, updated.Stdout + updated.Stderr);
        }

        Assert.Equal("e2e", (await _stack.Client.GetVmAsync(_stack.Vm("node00"))).Tags!["fleet"]);

        var ok = await cli.RunAsync("fleet", "run-command", "create", "-g", "e2e", "-n", "cli-web", "--target-tags", "role=web",
            "--script", "echo first; sleep 0.2; echo second", "--max-concurrency", "50%", "--max-errors", "1");

        Assert.True(ok.ExitCode == 0, ok.Stdout + ok.Stderr);
        Assert.Contains("=== node00 (Succeeded, exit code 0) ===\nfirst\nsecond\n", ok.Stdout, StringComparison.Ordinal);
        Assert.Contains("=== node01 (Succeeded, exit code 0) ===\nfirst\nsecond\n", ok.Stdout, StringComparison.Ordinal);
        Assert.Contains("Summary: cli-web Succeeded; 2 targets: 2 Succeeded", ok.Stdout, StringComparison.Ordinal);
        Assert.Contains("cli-web: Succeeded - 2 targets: 2 Succeeded", ok.Stderr, StringComparison.Ordinal);

        var failed = await cli.RunAsync("fleet", "run-command", "create", "-g", "e2e", "-n", "cli-fail", "--target-vms", "node02", "--script", "echo bad >&2; exit 3");

        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("=== node02 (Failed, exit code 3) ===\n--- stderr ---\nbad\n", failed.Stdout, StringComparison.Ordinal);

        // Output longer than the view's 4 KiB tail is read whole from the target's run command.
        var big = await cli.RunAsync("fleet", "run-command", "create", "-g", "e2e", "-n", "cli-big", "--target-vms", "node03", "--script", "seq 1 3000; seq 1 2000 >&2");

        Assert.True(big.ExitCode == 0, big.Stdout + big.Stderr);
        var stdout = string.Concat(Enumerable.Range(1, 3000).Select(i => $"{i}\n"));
        var stderr = string.Concat(Enumerable.Range(1, 2000).Select(i => $"{i}\n"));
        Assert.Contains($"=== node03 (Succeeded, exit code 0) ===\n{stdout}--- stderr ---\n{stderr}Summary:", big.Stdout, StringComparison.Ordinal);

        var listed = await cli.RunAsync("fleet", "run-command", "list", "-g", "e2e", "-o", "table");
        Assert.Contains("cli-web", listed.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateFleetRun_InvalidOrDuplicate_IsRejectedWithArmErrors()
    {
        var noTargets = await Assert.ThrowsAsync<ArmRequestException>(() => _stack.Client.CreateFleetRunAsync(Run("bad1"), new FleetRunResource
        {
            Location = "local",
            Properties = new FleetRunProperties { Source = new RunCommandSource { Script = "true" }, MaxConcurrency = "ten" },
        }));
        var noMatch = await Assert.ThrowsAsync<ArmRequestException>(() => _stack.Client.CreateFleetRunAsync(Run("bad2"), new FleetRunResource
        {
            Location = "local",
            Properties = new FleetRunProperties
            {
                Targets = new FleetTargets { Tags = new Dictionary<string, string> { ["fleet"] = "nowhere" } },
                Source = new RunCommandSource { Script = "true" },
            },
        }));
        await _stack.Client.CreateFleetRunAsync(Run("twice"), Definition("true", "100%"));
        var duplicate = await Assert.ThrowsAsync<ArmRequestException>(() => _stack.Client.CreateFleetRunAsync(Run("twice"), Definition("true", "100%")));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, noTargets.StatusCode);
        Assert.Contains("properties.targets", noTargets.Message, StringComparison.Ordinal);
        Assert.Contains("properties.maxConcurrency", noTargets.Message, StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, noMatch.StatusCode);
        Assert.Contains("No machine matches", noMatch.Message, StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.Conflict, duplicate.StatusCode);
        await WaitForEndAsync(Run("twice"));
    }
}
