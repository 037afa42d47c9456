using System.Diagnostics;
using System.Text;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>Scripts run by a real agent: outcomes, parameters, process groups, timeouts, parallelism, output.</summary>
public sealed class ExecutionTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    private static int ReadPid(string output, string label) =>
        int.Parse(output.Split('\n').Single(l => l.StartsWith(label + " ", StringComparison.Ordinal))[(label.Length + 1)..]);

    [Fact]
    public async Task Run_ExitThree_IsFailedWithExitCodeThree()
    {
        await _stack.StartAgentAsync("exit3");

        var result = await _stack.RunAsync(_stack.Command("exit3", "fail"), Stack.Script("echo before; echo oops >&2; exit 3"));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Equal(3, view.ExitCode);
        Assert.Equal("before\n", view.Output);
        Assert.Equal("oops\n", view.Error);
        Assert.Equal("Succeeded", result.Properties.ProvisioningState);
        Assert.NotNull(view.StartTime);
        Assert.NotNull(view.EndTime);
    }

    [Fact]
    public async Task Run_ParametersWithShellSyntax_ArriveByteForByteAndNothingIsExecuted()
    {
        await _stack.StartAgentAsync("params");
        var marker = Path.Combine(_stack.Dir, "pwned-" + Guid.NewGuid().ToString("N"));
        string[] values =
        [
            $"$(touch {marker})",
            $"`touch {marker}`; rm -rf /nonexistent",
            "it's \"quoted\" \\ back\\slash",
            "  spaces  and\ttabs  ",
            "line one\nline two\n",
            "ünïcödé ✓ 日本語 😀",
            "",
        ];
        var parameters = new List<RunCommandParameter> { new() { Name = "NAMED", Value = values[0] } };
        parameters.AddRange(values.Select(v => new RunCommandParameter { Name = "", Value = v }));
        const string script = """
            printf '%s' "$NAMED" | base64 -w0; echo
            for arg in "$@"; do printf '%s' "$arg" | base64 -w0; echo; done
            echo "count $#"
            """;

        var result = await _stack.RunAsync(_stack.Command("params", "p"), Stack.Script(script, parameters: parameters));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        var expected = string.Concat(new[] { values[0] }.Concat(values).Select(v => Convert.ToBase64String(Encoding.UTF8.GetBytes(v)) + "\n")) + $"count {values.Length}\n";
        Assert.Equal(expected, view.Output);
        Assert.False(File.Exists(marker), "a parameter value was executed by a shell");
    }

    [Fact]
    public async Task Run_NamelessProtectedParameters_FollowThePublicOnesAsDollarArgumentsByteForByte()
    {
        await _stack.StartAgentAsync("protpos");
        string[] secrets = ["it's \"quoted\" with  spaces", "line one\nline two\n", "", "$(echo nope) -x"];
        var resource = Stack.Script("""
            #!/usr/bin/env bash
            for arg in "$@"; do printf '%s' "$arg" | base64 -w0; echo; done
            echo "count $# named $NAMED zero $0"
            """, parameters: [new() { Name = "", Value = "public one" }, new() { Name = "", Value = "public\ntwo" }]);
        resource = resource with
        {
            Properties = resource.Properties! with
            {
                ProtectedParameters = [.. secrets.Take(2).Select(v => new RunCommandParameter { Name = "", Value = v }),
                    new() { Name = "NAMED", Value = "n" }, .. secrets.Skip(2).Select(v => new RunCommandParameter { Name = "", Value = v })],
            },
        };

        var result = await _stack.RunAsync(_stack.Command("protpos", "p"), resource);

        var view = result.Properties!.InstanceView!;
        Assert.True(view.ExecutionState == ExecutionStates.Succeeded, view.ExecutionMessage + view.Error);
        string[] all = ["public one", "public\ntwo", .. secrets];
        var lines = view.Output!.Split('\n');
        Assert.Equal(all.Select(v => Convert.ToBase64String(Encoding.UTF8.GetBytes(v))), lines.Take(all.Length));
        Assert.StartsWith($"count {all.Length} named n zero /", lines[all.Length], StringComparison.Ordinal);
        Assert.EndsWith("/script", lines[all.Length], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_NamelessProtectedParameterWithPythonShebang_FailsClearlyWithoutRunning()
    {
        await _stack.StartAgentAsync("protpy");
        var resource = Stack.Script("#!/usr/bin/python3\nprint('ran')\n");
        resource = resource with { Properties = resource.Properties! with { ProtectedParameters = [new() { Name = "", Value = "s" }] } };

        var view = (await _stack.RunAsync(_stack.Command("protpy", "p"), resource)).Properties!.InstanceView!;

        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Contains("Nameless protected parameters need a shell script", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.Equal("", view.Output ?? "");
    }

    [Fact]
    public async Task Delete_RunningScriptWithBackgroundChild_LeavesNoProcess()
    {
        await _stack.StartAgentAsync("deleter");
        var target = _stack.Command("deleter", "sleeper");
        await _stack.StartAsync(target, Stack.Script("sleep 600 & echo child $!; echo self $$; sleep 600"));
        var view = await _stack.WaitForStateAsync(target, v => v.Output?.Contains("self ", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(20), "the script to print its pids");
        var pids = new[] { ReadPid(view.Output!, "child"), ReadPid(view.Output!, "self") };
        Assert.All(pids, pid => Assert.True(Processes.IsAlive(pid)));

        var operation = await _stack.Client.DeleteAsync(target);
        var done = await _stack.Client.WaitForOperationAsync(operation!);

        Assert.Equal(OperationStatus.Succeeded, done.Status);
        await Wait.UntilAsync(() => pids.All(pid => !Processes.IsAlive(pid)), TimeSpan.FromSeconds(15), "every process of the script to be gone");
        var missing = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.GetAsync(target));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Run_Timeout_IsTimedOutAndKillsTheWholeGroup()
    {
        await _stack.StartAgentAsync("timeout");
        var target = _stack.Command("timeout", "slow");

        var result = await _stack.RunAsync(target, Stack.Script("sleep 600 & echo child $!; echo self $$; sleep 600", timeoutInSeconds: 2));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.TimedOut, view.ExecutionState);
        Assert.Null(view.ExitCode);
        Assert.Contains("Timed out", view.ExecutionMessage, StringComparison.Ordinal);
        var pids = new[] { ReadPid(view.Output!, "child"), ReadPid(view.Output!, "self") };
        await Wait.UntilAsync(() => pids.All(pid => !Processes.IsAlive(pid)), TimeSpan.FromSeconds(15), "every process of the script to be gone");
        Assert.True(view.EndTime - view.StartTime < TimeSpan.FromSeconds(10), $"timeout took {view.EndTime - view.StartTime}");
    }

    [Fact]
    public async Task Run_TimeoutOfScriptWithSetsidChild_KillsTheEscapedChild()
    {
        await _stack.StartAgentAsync("escape-timeout");
        var target = _stack.Command("escape-timeout", "escaper");

        var result = await _stack.RunAsync(target, Stack.Script("setsid sleep 997 & echo child $!; sleep 600", timeoutInSeconds: 3));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.TimedOut, view.ExecutionState);
        var child = ReadPid(view.Output!, "child");
        await Wait.UntilAsync(() => !Processes.IsAlive(child), TimeSpan.FromSeconds(15), "the child that left its process group to be gone");
    }

    [Fact]
    public async Task Delete_RunningScriptWithSetsidChild_KillsTheEscapedChild()
    {
        await _stack.StartAgentAsync("escape-delete");
        var target = _stack.Command("escape-delete", "escaper");
        await _stack.StartAsync(target, Stack.Script("setsid sleep 997 & echo child $!; echo self $$; sleep 600"));
        var view = await _stack.WaitForStateAsync(target, v => v.Output?.Contains("self ", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(20), "the script to print its pids");
        var child = ReadPid(view.Output!, "child");
        var self = ReadPid(view.Output!, "self");
        Assert.True(Processes.IsAlive(child));
        // "echo child $!" can run before the child has called setsid(): wait for it to leave the script's group.
        await Wait.UntilAsync(() => ReadPgid(child) != ReadPgid(self), TimeSpan.FromSeconds(15), "the child to leave the script's process group");

        var operation = await _stack.Client.DeleteAsync(target);
        var done = await _stack.Client.WaitForOperationAsync(operation!);

        Assert.Equal(OperationStatus.Succeeded, done.Status);
        await Wait.UntilAsync(() => !Processes.IsAlive(child), TimeSpan.FromSeconds(15), "the child that left its process group to be gone");
    }

    /// <summary>Field 5 of /proc/pid/stat, or -1 when the process is gone.</summary>
    private static int ReadPgid(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    [Fact]
    public async Task Run_TenTwoSecondScripts_RunInParallel()
    {
        await _stack.StartAgentAsync("parallel");
        var targets = Enumerable.Range(0, 10).Select(i => _stack.Command("parallel", $"p{i}")).ToList();
        var clock = Stopwatch.StartNew();

        var operations = await Task.WhenAll(targets.Select(t => _stack.StartAsync(t, Stack.Script("sleep 2; echo done"))));
        await Task.WhenAll(operations.Select(o => _stack.Client.WaitForOperationAsync(o)));
        clock.Stop();

        var views = await Task.WhenAll(targets.Select(async t => (await _stack.Client.GetAsync(t, expandInstanceView: true)).Properties!.InstanceView!));
        Assert.All(views, v => Assert.Equal(ExecutionStates.Succeeded, v.ExecutionState));
        // All ten overlapped: the last to start began before the first to end had finished.
        Assert.True(views.Max(v => v.StartTime) < views.Min(v => v.EndTime), "the scripts did not all run at the same time");
        // Generous bound for a shared machine; sequential would take 20 s.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"ten 2-second scripts took {clock.Elapsed}");
    }

    [Fact]
    public async Task Run_LargeOutput_KeepsEveryByteAndTailsTheLast4KiB()
    {
        await _stack.StartAgentAsync("bigout");
        var target = _stack.Command("bigout", "big");

        var result = await _stack.RunAsync(target, Stack.Script("for i in $(seq 1 20000); do echo \"line $i ünï\"; done"));

        var expected = string.Concat(Enumerable.Range(1, 20000).Select(i => $"line {i} ünï\n"));
        var all = await _stack.ReadAllStdoutAsync(target);
        Assert.Equal(expected, Encoding.UTF8.GetString(all));
        var tail = result.Properties!.InstanceView!.Output!;
        Assert.True(Encoding.UTF8.GetByteCount(tail) <= 4096);
        Assert.True(Encoding.UTF8.GetByteCount(tail) > 4090);
        Assert.EndsWith("line 20000 ünï\n", tail, StringComparison.Ordinal);
        Assert.DoesNotContain('\uFFFD', tail);
    }

    [Fact]
    public async Task Run_OutputOfManyUploads_IsKeptByteForByte()
    {
        // About 40 MB: the first report carries 1 MiB inside JSON, the rest goes as raw uploads of up to 8 MiB, each
        // stored as rows of 1 MiB. Every line is distinct, so a byte lost, doubled or misplaced at any seam shows.
        await _stack.StartAgentAsync("rawout");
        var target = _stack.Command("rawout", "raw");
        const int lines = 5_000_000;
        var expected = new StringBuilder();
        for (var i = 1; i <= lines; i++)
        {
            expected.Append(i).Append('\n');
        }

        var result = await _stack.RunAsync(target, Stack.Script($"seq 1 {lines}", timeoutInSeconds: 600));

        Assert.Equal(ExecutionStates.Succeeded, result.Properties!.InstanceView!.ExecutionState);
        var all = await _stack.ReadAllStdoutAsync(target);
        var want = Encoding.ASCII.GetBytes(expected.ToString());
        Assert.Equal(want.Length, all.Length);
        Assert.True(want.AsSpan().SequenceEqual(all), "stdout differs from what the script wrote");
        Assert.EndsWith($"\n{lines}\n", result.Properties.InstanceView.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WhileRunning_ShowsStateAndOutputWithinASecond()
    {
        await _stack.StartAgentAsync("live");
        var target = _stack.Command("live", "progress");
        var operation = await _stack.StartAsync(target, Stack.Script("echo first; sleep 4; echo second"));

        var view = await _stack.WaitForStateAsync(target, v => v.Output == "first\n", TimeSpan.FromSeconds(3), "the first line while running");

        Assert.Equal(ExecutionStates.Running, view.ExecutionState);
        Assert.Null(view.EndTime);
        var done = await _stack.Client.WaitForOperationAsync(operation);
        Assert.Equal(OperationStatus.Succeeded, done.Status);
        var final = (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
        Assert.Equal("first\nsecond\n", final.Output);
    }

    [Fact]
    public async Task Put_SameBodyAgain_DoesNotRunAgain_ChangedBodyCancelsAndRunsAgain()
    {
        await _stack.StartAgentAsync("idem");
        var target = _stack.Command("idem", "counter");
        var counter = Path.Combine(_stack.Dir, "count-" + Guid.NewGuid().ToString("N"));
        var first = Stack.Script($"echo run >> {counter}; echo one");

        await _stack.RunAsync(target, first);
        var again = await _stack.Client.CreateOrUpdateAsync(target, first);
        await _stack.Client.WaitForOperationAsync(again.OperationUrl!);

        Assert.Equal(System.Net.HttpStatusCode.OK, again.StatusCode);
        Assert.Single(File.ReadAllLines(counter));

        await _stack.StartAsync(target, Stack.Script($"echo slow >> {counter}; sleep 600"));
        await _stack.WaitForStateAsync(target, v => v.ExecutionState == ExecutionStates.Running, TimeSpan.FromSeconds(20), "the slow script to run");
        // Running means launched, not that its first line has run yet: a replacement before then would cancel a script
        // that never wrote (as it should), so wait for its line.
        await Wait.UntilAsync(() => File.ReadAllLines(counter).Length == 2, TimeSpan.FromSeconds(20), "the slow script's first line");
        var replaced = await _stack.RunAsync(target, Stack.Script("echo replaced"));

        Assert.Equal("replaced\n", replaced.Properties!.InstanceView!.Output);
        Assert.Equal(["run", "slow"], File.ReadAllLines(counter));
    }

    [Fact]
    public async Task Patch_ParametersOnly_KeepsTheScriptAndRunsAgain()
    {
        await _stack.StartAgentAsync("patch");
        var target = _stack.Command("patch", "greet");
        await _stack.RunAsync(target, Stack.Script("echo \"hello $WHO\"", parameters: [new RunCommandParameter { Name = "WHO", Value = "one" }]));

        var patched = await _stack.Client.PatchAsync(target, new RunCommandResource
        {
            Properties = new RunCommandProperties { Parameters = [new RunCommandParameter { Name = "WHO", Value = "two" }] },
        });
        await _stack.Client.WaitForOperationAsync(patched.OperationUrl!);

        Assert.Equal(System.Net.HttpStatusCode.OK, patched.StatusCode);
        var view = (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!;
        Assert.Equal("echo \"hello $WHO\"", view.Source!.Script);
        Assert.Equal("hello two\n", view.InstanceView!.Output);
    }

    [Fact]
    public async Task Run_AsyncExecution_OperationEndsWhenTheScriptStarts()
    {
        await _stack.StartAgentAsync("async");
        var target = _stack.Command("async", "bg");

        var operation = await _stack.StartAsync(target, Stack.Script("sleep 600", asyncExecution: true));
        var done = await _stack.Client.WaitForOperationAsync(operation);

        Assert.Equal(OperationStatus.Succeeded, done.Status);
        var view = (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Running, view.ExecutionState);
        await _stack.Client.WaitForOperationAsync((await _stack.Client.DeleteAsync(target))!);
    }
}
