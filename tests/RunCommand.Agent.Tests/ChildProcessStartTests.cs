using System.Globalization;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>
/// The test harness's wait for a server or agent to start (<see cref="ChildProcess.WaitUntilStartedAsync"/>): a process
/// that exits or misses its start says what it printed, and one that misses it is stopped, not left running.
/// </summary>
public sealed class ChildProcessStartTests
{
    [Fact]
    public async Task ExitsAtStart_TheErrorCarriesWhatItPrinted()
    {
        await using var process = ChildProcess.Start("probe", "/bin/sh", ["-c", "echo port already in use >&2; exit 3"]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            process.WaitUntilStartedAsync(() => Task.FromResult(false), TimeSpan.FromSeconds(30), "the probe to start"));

        Assert.Contains("The probe exited at start", error.Message);
        Assert.Contains("port already in use", error.Message);
    }

    [Fact]
    public async Task MissesItsStart_IsStoppedAndTheErrorCarriesWhatItPrinted()
    {
        var process = ChildProcess.Start("probe", "/bin/sh", ["-c", "echo still loading; exec sleep 120"]);
        var pid = process.Pid;
        await Wait.UntilAsync(() => process.Output.Contains("still loading"), TimeSpan.FromSeconds(30), "the probe's first line");

        var error = await Assert.ThrowsAsync<TimeoutException>(() =>
            process.WaitUntilStartedAsync(() => Task.FromResult(false), TimeSpan.FromMilliseconds(300), "the probe to start"));

        Assert.Contains("the probe to start", error.Message);
        Assert.Contains("The probe's output:", error.Message);
        Assert.Contains("still loading", error.Message);
        // Stopped and reaped: its pid is gone (a zombie would still have a /proc entry).
        Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still exists after the missed start");
        await process.DisposeAsync(); // a second dispose does nothing
    }

    [Fact]
    public async Task Ready_ReturnsWithTheProcessRunning()
    {
        await using var process = ChildProcess.Start("probe", "/bin/sh", ["-c", "echo ready; exec sleep 120"]);

        await process.WaitUntilStartedAsync(() => Task.FromResult(process.Output.Contains("ready")), TimeSpan.FromSeconds(30), "the probe to start");

        Assert.False(process.HasExited);
    }

    [Fact]
    public async Task Interrupt_EndsAProgramAsCtrlCDoes_WhateverTheTestRunnerIgnores()
    {
        // CI starts the test runner in the background, with SIGINT and SIGQUIT ignored; a child must not inherit that.
        var runner = IgnoredSignals("self");
        await using var process = ChildProcess.Start("probe", "/bin/sh", ["-c", "echo ready; exec sleep 120"]);
        await Wait.UntilAsync(() => process.Output.Contains("ready"), TimeSpan.FromSeconds(30), "the probe's first line");

        var ignored = IgnoredSignals(process.Pid.ToString(CultureInfo.InvariantCulture));
        // Bit n-1 is signal n: SIGINT is 2, SIGQUIT 3.
        Assert.True((ignored & 0b110) == 0, $"the probe ignores SIGINT or SIGQUIT (SigIgn {ignored:x16}; the test runner's {runner:x16})");
        process.Interrupt();
        Assert.Equal(128 + 2, await process.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task ExitWaitTimesOut_TheErrorSaysItRanShowsItsOutputAndWhatTheKernelSaysOfIt()
    {
        await using var process = ChildProcess.Start("probe", "/bin/sh", ["-c", "echo waiting for nothing; exec sleep 120"]);
        await Wait.UntilAsync(() => process.Output.Contains("waiting for nothing"), TimeSpan.FromSeconds(30), "the probe's first line");
        process.Pause();
        await Wait.UntilAsync(() => Processes.Describe(process.Pid).Contains("State: T", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the probe to be stopped");

        var error = await Assert.ThrowsAsync<TimeoutException>(() => process.WaitForExitAsync(TimeSpan.FromMilliseconds(200)));

        Assert.Contains($"probe (pid {process.Pid}) was still running after 0.2 s", error.Message);
        Assert.Contains("State: T (stopped)", error.Message);
        Assert.Contains("SigBlk:", error.Message);
        Assert.Contains("threads: 1 x T ", error.Message);
        Assert.Contains("waiting for nothing", error.Message);
        process.Resume();
    }

    private static ulong IgnoredSignals(string pid) => Convert.ToUInt64(
        File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))["SigIgn:".Length..].Trim(), 16);
}
