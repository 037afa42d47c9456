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
}
