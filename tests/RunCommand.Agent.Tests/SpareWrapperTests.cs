using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>
/// The wrapper spawned ahead of the next script (SpareWrapper): the script it starts must not be able to tell it from a
/// fresh wrapper's, and every launch it cannot carry exactly takes a fresh wrapper instead. Tracked with cgroup v2, so
/// the spare's cgroup is the one that becomes the execution's.
/// </summary>
public sealed class SpareWrapperTests : IDisposable
{
    private static readonly ExecutionSettings WithCgroups = AgentFixture.FastSettings with { ProcessTracking = ProcessTrackingMode.CgroupV2Kill };

    private readonly AgentFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    /// <summary>A manager whose spare is waiting.</summary>
    private async Task<ExecutionManager> ManagerWithSpareAsync(ExecutionSettings? settings = null)
    {
        var (manager, _) = _fixture.NewManager(settings: settings ?? WithCgroups);
        Assert.Equal(ProcessTrackingMode.CgroupV2Kill, manager.ProcessTracking);
        await AgentFixture.WaitUntilAsync(() => manager.SpareWrapperPid is not null, "a spare wrapper waits");
        return manager;
    }

    private async Task<(ExecutionReport Final, string Stdout, string Stderr, LocalExecutionRecord Record)> RunAsync(ExecutionManager manager, ExecutionAssignment assignment)
    {
        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        await manager.WhenAllAsync();
        var record = new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!;
        return (final, _fixture.Server[assignment.ExecutionId].StdoutText, _fixture.Server[assignment.ExecutionId].StderrText, record);
    }

    [Fact]
    public async Task Script_StartedByTheSpare_SeesExactlyWhatAFreshWrapperGivesIt()
    {
        // Arguments and variables with spaces, newlines, quotes, multibyte characters and empty values; the whole
        // environment; the directory, the session, the signals; the exit code and both streams.
        const string probe =
            """
            printf '<%s>' "$#" "$@"; echo
            printf '<%s>' "$GREETING" "${EMPTY-unset}" "${EMPTY+set}" "$P_SECRET"; echo
            pwd
            stat=$(cat /proc/$$/stat); set -- ${stat##*) }; [ "$4" = "$PPID" ] && echo "in the wrapper's session"
            grep -E 'SigBlk|SigIgn' /proc/self/status
            env | sort
            echo to-stderr >&2
            exit 7
            """;
        ExecutionAssignment Probe() => AgentFixture.Assignment(probe) with
        {
            Parameters =
            [
                new AgentParameter { Value = "a b" }, new AgentParameter { Value = "c\nd" }, new AgentParameter { Value = "ünï ☃ 'q' \"qq\" $HOME `x`" },
                new AgentParameter { Value = "" }, new AgentParameter { Name = "GREETING", Value = "héllo\n  wörld  \\ $PATH" },
                new AgentParameter { Name = "EMPTY", Value = "" },
            ],
            ProtectedParameters = [new AgentParameter { Name = "P_SECRET", Value = "s3cr3t=with=equals" }],
        };

        var (fresh, _) = _fixture.NewManager(settings: WithCgroups with { SpareWrapper = false });
        var freshAssignment = Probe();
        var cold = await RunAsync(fresh, freshAssignment);
        var manager = await ManagerWithSpareAsync();
        var spareAssignment = Probe();
        var spare = await RunAsync(manager, spareAssignment);

        Assert.StartsWith(SpareWrapperSlot.CgroupPrefix, Path.GetFileName(spare.Record.Cgroup), StringComparison.Ordinal);
        Assert.Equal(freshAssignment.ExecutionId, Path.GetFileName(cold.Record.Cgroup));
        Assert.Equal((LocalState.Failed, 7), (spare.Final.State, spare.Final.ExitCode));
        Assert.Equal((cold.Final.State, cold.Final.ExitCode), (spare.Final.State, spare.Final.ExitCode));
        Assert.Contains("<4><a b><c\nd><ünï ☃ 'q' \"qq\" $HOME `x`><>\n<héllo\n  wörld  \\ $PATH><><set><s3cr3t=with=equals>\n", spare.Stdout, StringComparison.Ordinal);
        Assert.Contains("in the wrapper's session\nSigBlk:\t0000000000000000\n", spare.Stdout, StringComparison.Ordinal);
        Assert.Equal(cold.Stdout.Replace(freshAssignment.ExecutionId, "ID", StringComparison.Ordinal), spare.Stdout.Replace(spareAssignment.ExecutionId, "ID", StringComparison.Ordinal));
        Assert.Equal("to-stderr\n", spare.Stderr);
    }

    [Fact]
    public async Task Script_RunAsAnotherUser_StartsThroughTheSpareAsThatUserInItsHome()
    {
        await using var user = await LinuxTestUser.CreateAsync();
        var manager = await ManagerWithSpareAsync();
        var assignment = AgentFixture.Assignment("id -un; pwd; echo \"$HOME $USER $LOGNAME $SHELL\"; cat /proc/self/cgroup | grep -c spare-")
            with { RunAsUser = user.Name, RunAsPassword = user.Password };

        var run = await RunAsync(manager, assignment);

        Assert.Equal(LocalState.Succeeded, run.Final.State);
        Assert.StartsWith(SpareWrapperSlot.CgroupPrefix, Path.GetFileName(run.Record.Cgroup), StringComparison.Ordinal);
        Assert.Equal($"{user.Name}\n{user.Home}\n{user.Home} {user.Name} {user.Name} /bin/bash\n1\n", run.Stdout);
    }

    [Fact]
    public async Task Script_SettingAVariableOfBashItself_TakesAFreshWrapperAndTheSpareWaitsOn()
    {
        var manager = await ManagerWithSpareAsync();
        var waiting = manager.SpareWrapperPid;
        var assignment = AgentFixture.Assignment("printf '%s\\n' \"$LANG\"") with { Parameters = [new AgentParameter { Name = "LANG", Value = "C" }] };

        var run = await RunAsync(manager, assignment);

        Assert.Equal(LocalState.Succeeded, run.Final.State);
        Assert.Equal("C\n", run.Stdout);
        Assert.Equal(assignment.ExecutionId, Path.GetFileName(run.Record.Cgroup));
        Assert.Equal(waiting, manager.SpareWrapperPid);
    }

    [Fact]
    public async Task Script_AfterTheSpareWasKilled_RunsOnceThroughAFreshWrapper_AndANewSpareFollows()
    {
        var manager = await ManagerWithSpareAsync();
        var killed = manager.SpareWrapperPid!.Value;
        Assert.Equal(0, Posix.Kill(killed, Posix.SigKill));
        await AgentFixture.WaitUntilAsync(() => manager.SpareWrapperPid is null, "the killed spare is seen gone");
        var counter = Path.Combine(_fixture.Root, "counter");
        var assignment = AgentFixture.Assignment($"echo run >> {counter}; echo ok");

        var run = await RunAsync(manager, assignment);

        Assert.Equal(LocalState.Succeeded, run.Final.State);
        Assert.Equal("ok\n", run.Stdout);
        Assert.Equal(["run"], await File.ReadAllLinesAsync(counter));
        await AgentFixture.WaitUntilAsync(() => manager.SpareWrapperPid is { } next && next != killed, "a new spare waits");
    }

    [Fact]
    public async Task Spare_NeverHoldsTheAgentsOutputOpen()
    {
        // A supervisor that reads the agent's output (runcmd up, systemd's journal) waits for every holder of the pipe to
        // close it: a spare, which may wait for hours, must hold /dev/null from its spawn, before its first line runs.
        // Its first line points its stdout at its own cgroup.procs for the moment of the join (echo $$ >...): anything
        // else than that or /dev/null would be a file it inherited.
        var manager = await ManagerWithSpareAsync();
        var pid = manager.SpareWrapperPid!.Value;

        var atSpawn = new FileInfo($"/proc/{pid}/fd/1").LinkTarget!;
        Assert.True(atSpawn == "/dev/null" || atSpawn.Contains("/" + SpareWrapperSlot.CgroupPrefix, StringComparison.Ordinal) && atSpawn.EndsWith("/cgroup.procs", StringComparison.Ordinal), atSpawn);
        Assert.Equal("/dev/null", new FileInfo($"/proc/{pid}/fd/2").LinkTarget);
        await ChildOfAsync(pid); // forked once the spare is in its cgroup
        Assert.Equal("/dev/null", new FileInfo($"/proc/{pid}/fd/1").LinkTarget);
        Assert.StartsWith("pipe:", new FileInfo($"/proc/{pid}/fd/0").LinkTarget, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spare_HasForkedItsScriptsProcessBeforeTheLaunch_TheLaunchOnlyExecsIt()
    {
        // The fork of the script's process is paid while the spare waits (docs/performance.md, item 49): the script runs
        // as the very process that waited beside the spare, and that one held neither the agent's output nor a file.
        var manager = await ManagerWithSpareAsync();
        var spare = manager.SpareWrapperPid!.Value;
        var child = await ChildOfAsync(spare);
        Assert.Equal("/dev/null", new FileInfo($"/proc/{child}/fd/2").LinkTarget);
        Assert.StartsWith("pipe:", new FileInfo($"/proc/{child}/fd/0").LinkTarget, StringComparison.Ordinal);
        Assert.StartsWith("pipe:", new FileInfo($"/proc/{child}/fd/1").LinkTarget, StringComparison.Ordinal);
        Assert.NotEqual(new FileInfo("/proc/self/fd/1").LinkTarget, new FileInfo($"/proc/{child}/fd/1").LinkTarget);

        var run = await RunAsync(manager, AgentFixture.Assignment("echo $$ $PPID"));

        Assert.Equal(LocalState.Succeeded, run.Final.State);
        Assert.Equal($"{child} {spare}\n", run.Stdout);
    }

    /// <summary>The one child of <paramref name="pid"/>, once it has one.</summary>
    private static async Task<int> ChildOfAsync(int pid)
    {
        List<int> children = [];
        await AgentFixture.WaitUntilAsync(() =>
        {
            children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
            return children.Count > 0;
        }, "the spare forks its child");
        return Assert.Single(children);
    }

    [Fact]
    public async Task Spare_ItsAgentGone_EndsWithNothingRunAndItsCgroupGoes()
    {
        var (manager, shutdown) = _fixture.NewManager(settings: WithCgroups);
        await AgentFixture.WaitUntilAsync(() => manager.SpareWrapperPid is not null, "a spare wrapper waits");
        var pid = manager.SpareWrapperPid!.Value;
        var cgroup = ProcessTracker.Detect(ProcessTrackingMode.CgroupV2Kill).Root!;
        List<string> spareCgroups = [];

        // The spare joins its cgroup itself, a moment after it is spawned (and its pid known).
        await AgentFixture.WaitUntilAsync(() => (spareCgroups = Directory.GetDirectories(cgroup, SpareWrapperSlot.CgroupPrefix + "*")
            .Where(d => ProcessTracker.Members(d).Contains(pid)).ToList()).Count > 0, "the spare joins its cgroup");
        await shutdown.CancelAsync();

        await AgentFixture.WaitUntilAsync(() => !Directory.Exists($"/proc/{pid}"), "the spare ends with its agent");
        Assert.Single(spareCgroups);
        await AgentFixture.WaitUntilAsync(() => !Directory.Exists(spareCgroups[0]), "the spare's cgroup is removed");
    }

    [Fact]
    public void NextAgent_RemovesTheSpareCgroupsOfGoneMakers_NotOnesALiveMakerHasJustMade()
    {
        // Another agent's spare joins its cgroup a moment after making it: empty until then, it must not be taken for a
        // leftover. Gone makers: a name without one (an older agent), and this pid with another start time (pid reused).
        var cgroup = ProcessTracker.Detect(ProcessTrackingMode.CgroupV2Kill).Root!;
        var fresh = Directory.CreateDirectory(Path.Combine(cgroup, SpareWrapperSlot.NewCgroupName())).FullName;
        var unnamed = Directory.CreateDirectory(Path.Combine(cgroup, SpareWrapperSlot.CgroupPrefix + Guid.NewGuid().ToString("N"))).FullName;
        var reused = Directory.CreateDirectory(Path.Combine(cgroup, $"{SpareWrapperSlot.CgroupPrefix}{Environment.ProcessId}.0-{Guid.NewGuid():N}")).FullName;
        try
        {
            _fixture.NewManager(settings: WithCgroups);

            Assert.True(Directory.Exists(fresh), "a live maker's empty cgroup was removed");
            Assert.False(Directory.Exists(unnamed), "a cgroup without its maker outlived the next agent's start");
            Assert.False(Directory.Exists(reused), "a cgroup of a gone maker whose pid lives on outlived the next agent's start");
        }
        finally
        {
            ProcessTracker.TryRemove(fresh);
            ProcessTracker.TryRemove(unnamed);
            ProcessTracker.TryRemove(reused);
        }
    }
}
