using System.Globalization;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;

namespace RunCommand.Agent.Tests;

/// <summary>
/// Real scripts whose children leave the process group (setsid, double fork): a cgroup per execution still ends
/// them on timeout and cancel, with each mechanism the agent may choose (the tests run as root, like CI, on a
/// machine with cgroup v2 and the v1 freezer; a mechanism the machine lacks fails the test rather than skipping).
/// </summary>
public sealed class ProcessTrackingTests : IDisposable
{
    private readonly AgentFixture _fixture = new();
    private readonly List<int> _strays = [];

    public void Dispose()
    {
        // Only what is still our sleep: a pid that ended may have been reused.
        foreach (var pid in _strays.Where(pid => IsRunning(pid) && ReadCommand(pid).StartsWith("sleep", StringComparison.Ordinal)))
        {
            _ = Posix.Kill(pid, Posix.SigKill);
        }

        _fixture.Dispose();
    }

    /// <summary>
    /// A script whose child runs in a session of its own (its pid in <c>escaped</c>) and a grandchild that
    /// double-forked; all of them ignore SIGTERM, so only the SIGKILL way of each mechanism can end them.
    /// </summary>
    private const string EscapingScript =
        """
        trap '' TERM
        setsid sleep 997 &
        echo $! > escaped
        ( setsid sh -c 'sleep 996 & echo $! > doubled' & )
        while [ ! -s doubled ]; do sleep 0.02; done
        echo ready
        sleep 600
        """;

    [Theory]
    [InlineData(ProcessTrackingMode.CgroupV2Kill)]
    [InlineData(ProcessTrackingMode.CgroupV2Freeze)]
    [InlineData(ProcessTrackingMode.CgroupV1Freezer)]
    public async Task Timeout_ChildrenThatLeftTheGroup_AreKilledWithTheCgroup(ProcessTrackingMode mode)
    {
        var (manager, _) = _fixture.NewManager(settings: AgentFixture.FastSettings with { ProcessTracking = mode });
        Assert.Equal(mode, manager.ProcessTracking);
        var assignment = AgentFixture.Assignment(EscapingScript) with { TimeoutInSeconds = 3 };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var escaped = await ReadPidsAsync(assignment.ExecutionId);
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        await manager.WhenAllAsync();

        Assert.Equal(LocalState.TimedOut, final.State);
        Assert.All(escaped, pid => Assert.False(IsRunning(pid), $"pid {pid} outlived its script's timeout"));
        var record = new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!;
        Assert.NotNull(record.Cgroup);
        Assert.False(Directory.Exists(record.Cgroup), "the emptied cgroup is removed");
    }

    [Fact]
    public async Task Cancel_ChildThatLeftTheGroup_IsKilledWithTheCgroup()
    {
        var (manager, _) = _fixture.NewManager();
        Assert.NotEqual(ProcessTrackingMode.ProcessGroup, manager.ProcessTracking);
        var assignment = AgentFixture.Assignment(EscapingScript);

        manager.Reconcile(AgentFixture.Goal(assignment));
        var escaped = await ReadPidsAsync(assignment.ExecutionId);
        manager.Reconcile(AgentFixture.Goal(assignment with { Cancel = true }));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Canceled, final.State);
        Assert.All(escaped, pid => Assert.False(IsRunning(pid), $"pid {pid} outlived the cancel"));
    }

    [Fact]
    public async Task Timeout_ProcessGroupOnly_ChildThatLeftTheGroupSurvives()
    {
        // The fallback's known limit, kept visible: without a cgroup a setsid child is out of reach.
        var (manager, _) = _fixture.NewManager(settings: AgentFixture.FastSettings with { ProcessTracking = ProcessTrackingMode.ProcessGroup });
        var assignment = AgentFixture.Assignment(EscapingScript) with { TimeoutInSeconds = 2 };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var escaped = await ReadPidsAsync(assignment.ExecutionId);
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.TimedOut, final.State);
        Assert.Null(new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!.Cgroup);
        Assert.All(escaped, pid => Assert.True(IsRunning(pid)));
    }

    [Fact]
    public async Task Recover_AfterAgentRestart_TimeoutStillKillsTheWholeCgroup()
    {
        var (first, shutdown) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment(EscapingScript) with { TimeoutInSeconds = 4 };
        first.Reconcile(AgentFixture.Goal(assignment));
        var escaped = await ReadPidsAsync(assignment.ExecutionId);
        await shutdown.CancelAsync();
        await first.WhenAllAsync();
        var afterRestart = new FakeServer();
        var (second, _) = _fixture.NewManager(afterRestart);

        second.Recover();
        var final = await afterRestart[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.TimedOut, final.State);
        Assert.All(escaped, pid => Assert.False(IsRunning(pid), $"pid {pid} outlived the timeout enforced after the restart"));
    }

    [Fact]
    public void CgroupDirectory_NamespacedMount_IsTheMountPointPlusThePathBelowItsRoot()
    {
        const string mountInfo =
            """
            30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw
            33 25 0:29 /machine /sys/fs/cgroup/freezer rw,nosuid shared:13 - cgroup cgroup rw,freezer
            34 25 0:30 / /sys/fs/cgroup/cpu rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct
            """;
        const string memberships =
            """
            6:freezer:/machine/agent
            1:cpu,cpuacct:/
            0::/system.slice/runcommand-agent.service
            """;

        Assert.Equal("/sys/fs/cgroup/unified/system.slice/runcommand-agent.service", ProcessTracker.CgroupDirectory(mountInfo, memberships, v2: true));
        Assert.Equal("/sys/fs/cgroup/freezer/agent", ProcessTracker.CgroupDirectory(mountInfo, memberships, v2: false));
        Assert.Null(ProcessTracker.CgroupDirectory(mountInfo, "1:cpu,cpuacct:/\n", v2: true));
    }

    /// <summary>Waits until the script printed "ready" and returns the pids of its escaped descendants (remembered for clean-up).</summary>
    private async Task<int[]> ReadPidsAsync(string executionId)
    {
        var dir = _fixture.ExecutionDir(executionId);
        await AgentFixture.WaitUntilAsync(() => _fixture.Server[executionId].StdoutText.Contains("ready", StringComparison.Ordinal), "the script started its escaping children");
        var pids = new[] { "escaped", "doubled" }
            .Select(name => int.Parse(File.ReadAllText(Path.Combine(dir, name)).Trim(), CultureInfo.InvariantCulture))
            .ToArray();
        _strays.AddRange(pids);
        Assert.All(pids, pid => Assert.True(IsRunning(pid)));
        Assert.All(pids, pid => Assert.NotEqual(Posix.GetPgid(pid), new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(executionId)!.Pid));
        return pids;
    }

    private static string ReadCommand(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline");
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static bool IsRunning(int pid) => ProcStat.TryRead(pid) is { State: not 'Z' and not 'X' };
}
