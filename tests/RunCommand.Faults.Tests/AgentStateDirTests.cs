using System.Diagnostics;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;
using Xunit.Abstractions;

namespace RunCommand.Faults.Tests;

/// <summary>The agent's state dir (a small tmpfs) fills up, then turns read-only, then recovers.</summary>
public sealed class AgentStateDirTests(ITestOutputHelper output)
{
    [Fact]
    public async Task StateDirFullThenReadOnly_CommandsEndFailedWithTheReasonNeverRunAndTheAgentGoesOn()
    {
        var clock = Stopwatch.StartNew();
        await using var stack = new FaultStack("agentdisk");
        await stack.StartServerAsync();
        var stateDir = Path.Combine(stack.Dir, "agent-state");
        await stack.MountTmpfsAsync(stateDir, 8);
        await stack.StartAgentsAsync(["disk"], stateDirOf: _ => stateDir);
        var ledger = new Ledger(Path.Combine(stack.Dir, "ledger"));

        var first = stack.Command("disk", "first");
        await stack.PutAsync(first, ledger.Record("first"));
        Assert.Equal(ExecutionStates.Succeeded, (await stack.WaitAllTerminalAsync([first], TimeSpan.FromMinutes(1)))["disk/first"].ExecutionState);

        // Full: the agent cannot record the execution, so it must not run it, and says why.
        var ballast = Path.Combine(stateDir, "ballast");
        FaultStack.FillDisk(ballast);
        var whenFull = stack.Command("disk", "whenfull");
        await stack.PutAsync(whenFull, ledger.Record("whenfull"));
        var full = (await stack.WaitAllTerminalAsync([whenFull], TimeSpan.FromMinutes(1)))["disk/whenfull"];
        Assert.Equal(ExecutionStates.Failed, full.ExecutionState);
        Assert.Contains("could not record this execution in its state directory", full.ExecutionMessage, StringComparison.Ordinal);
        Assert.Contains("No space left on device", full.ExecutionMessage, StringComparison.Ordinal);

        // Read-only (space back, but no writes at all): the same, with its own reason.
        File.Delete(ballast);
        await FaultStack.RunAsync("mount", "-o", "remount,ro", stateDir);
        var whenReadOnly = stack.Command("disk", "whenro");
        await stack.PutAsync(whenReadOnly, ledger.Record("whenro"));
        var readOnly = (await stack.WaitAllTerminalAsync([whenReadOnly], TimeSpan.FromMinutes(1)))["disk/whenro"];
        Assert.Equal(ExecutionStates.Failed, readOnly.ExecutionState);
        Assert.Contains("Read-only file system", readOnly.ExecutionMessage, StringComparison.Ordinal);

        // Writable again: the same agent (never restarted) runs the next command.
        await FaultStack.RunAsync("mount", "-o", "remount,rw", stateDir);
        var after = stack.Command("disk", "after");
        await stack.PutAsync(after, ledger.Record("after"));
        Assert.Equal(ExecutionStates.Succeeded, (await stack.WaitAllTerminalAsync([after], TimeSpan.FromMinutes(1)))["disk/after"].ExecutionState);
        Assert.False(stack.Agents[0].Process.HasExited, "the agent stayed up");

        ledger.AssertEachOnce(["first", "after"]);
        output.WriteLine($"agent state dir: 2 faults (full, read-only) reported as Failed with their reason, 0 lost, 0 run unrecorded, {clock.Elapsed.TotalSeconds:F0} s");
    }

    /// <summary>
    /// The state dir fills while a script writes: its writes fail with ENOSPC (unseen by the agent) and it exits 0 all
    /// the same. The execution must not end as the script's success with its output silently cut: it ends Failed,
    /// saying why and what the script's exit code was, with the output that was kept.
    /// </summary>
    [Fact]
    public async Task StateDirFillsWhileTheScriptWrites_EndsFailedSayingTheOutputCouldNotBeKept()
    {
        await using var stack = new FaultStack("agentfull");
        await stack.StartServerAsync();
        var stateDir = Path.Combine(stack.Dir, "agent-state");
        await stack.MountTmpfsAsync(stateDir, 8);
        await stack.StartAgentsAsync(["filler"], stateDirOf: _ => stateDir);

        var target = stack.Command("filler", "flood");
        await stack.PutAsync(target, "echo first line; yes 0123456789abcdef | head -c 20000000 2>/dev/null; exit 0");
        var view = (await stack.WaitAllTerminalAsync([target], TimeSpan.FromMinutes(2)))["filler/flood"];

        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Contains("ran out of space (No space left on device) while the script ran, so its output could not be kept", view.ExecutionMessage, StringComparison.Ordinal);
        var kept = System.Text.Encoding.ASCII.GetString(await Stack.ReadAllStdoutAsync(stack.Client, target));
        Assert.StartsWith("first line\n0123456789abcdef", kept, StringComparison.Ordinal);
        Assert.InRange(kept.Length, 1_000_000, 8 * 1024 * 1024);
        output.WriteLine($"agent state dir filled by the script: Failed, '{view.ExecutionMessage}', {kept.Length} of 20000011 bytes of output kept");
    }
}
