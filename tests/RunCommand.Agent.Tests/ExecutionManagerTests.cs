using System.Text;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

public sealed class ExecutionManagerTests : IDisposable
{
    private readonly AgentFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task Reconcile_InlineScript_CapturesStdoutStderrAndExitCode()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("echo out\necho err >&2\n");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal(0, final.ExitCode);
        Assert.NotNull(final.StartTime);
        Assert.NotNull(final.EndTime);
        Assert.Equal("out\n", _fixture.Server[assignment.ExecutionId].StdoutText);
        Assert.Equal("err\n", _fixture.Server[assignment.ExecutionId].StderrText);
    }

    [Fact]
    public async Task Reconcile_ServerTakesRawUploads_SendsOutputRawThenTheTerminalStateWithoutOutput()
    {
        var server = new RawUploadServer(_fixture.Server);
        var (manager, _) = _fixture.NewManager(server);
        // 20 MB of distinct lines, written over about a second so that progress uploads happen while it runs.
        var assignment = AgentFixture.Assignment("seq 1 1000000; sleep 0.5; seq 1000001 2500000; echo err >&2");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Null(final.Stdout);
        Assert.Null(final.Stderr);
        Assert.True(server.Uploads >= 3, $"only {server.Uploads} raw uploads for 20 MB (at most 8 MiB each)");
        Assert.Equal(string.Concat(Enumerable.Range(1, 2_500_000).Select(i => $"{i}\n")), _fixture.Server[assignment.ExecutionId].StdoutText);
        Assert.Equal("err\n", _fixture.Server[assignment.ExecutionId].StderrText);
        // After the first report (JSON, when the agent does not yet know the server takes uploads) no report carries output.
        Assert.All(_fixture.Server[assignment.ExecutionId].ReportsSnapshot.Skip(1), r => Assert.Null(r.Stdout));
    }

    [Fact]
    public async Task Reconcile_RawUploadRefusedAsAGap_ResumesFromWhereTheServerIs()
    {
        var server = new RawUploadServer(_fixture.Server) { ForgetOnce = true };
        var (manager, _) = _fixture.NewManager(server);
        var assignment = AgentFixture.Assignment("seq 1 3000000");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.True(server.Gaps >= 1, "no upload was refused as a gap");
        Assert.Equal(string.Concat(Enumerable.Range(1, 3_000_000).Select(i => $"{i}\n")), _fixture.Server[assignment.ExecutionId].StdoutText);
    }

    [Fact]
    public async Task Reconcile_StartedOnServerButUnknownHere_ReportsFailedAndNeverRuns()
    {
        var (manager, _) = _fixture.NewManager();
        var marker = Path.Combine(Path.GetTempPath(), "rc-lost-" + Guid.NewGuid().ToString("N"));
        var assignment = AgentFixture.Assignment($"touch {marker}") with { Started = true };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal(ExecutionManager.LostStateMessage, final.Message);
        Assert.False(File.Exists(marker), "a started execution the agent had lost was run again");
    }

    [Fact]
    public async Task Reconcile_ScriptStillRunning_ReportsRunningBeforeTheEnd()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("echo started; sleep 1");

        manager.Reconcile(AgentFixture.Goal(assignment));
        await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        var reports = _fixture.Server[assignment.ExecutionId].ReportsSnapshot;
        Assert.Equal(LocalState.Running, reports[0].State);
        Assert.NotNull(reports[0].StartTime);
        Assert.Equal(LocalState.Succeeded, reports[^1].State);
    }

    [Fact]
    public async Task Reconcile_ScriptExits3_ReportsFailedWithCode3()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("exit 3");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal(3, final.ExitCode);
        Assert.Equal("Script exited with code 3", final.Message);
    }

    [Fact]
    public async Task Reconcile_Script_DoesNotSeeRunCommandsOwnSettingsFromTheAgentsEnvironment()
    {
        // runcmd up hands the agent the environment that configures the server and the CLI (RUNCMD_POSTGRES may hold a
        // database password): none of it reaches a script; the rest of the agent's environment does.
        Environment.SetEnvironmentVariable("RUNCMD_TEST_SETTING", "kept-from-scripts");
        try
        {
            var (manager, _) = _fixture.NewManager();
            var assignment = AgentFixture.Assignment("echo \"setting=${RUNCMD_TEST_SETTING-unset} path=${PATH:+set}\"");

            manager.Reconcile(AgentFixture.Goal(assignment));
            var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

            Assert.Equal(LocalState.Succeeded, final.State);
            Assert.Equal("setting=unset path=set\n", _fixture.Server[assignment.ExecutionId].StdoutText);
        }
        finally
        {
            Environment.SetEnvironmentVariable("RUNCMD_TEST_SETTING", null);
        }
    }

    [Fact]
    public async Task Reconcile_Shebang_RunsScriptWithItsInterpreter()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("#!/bin/sh\necho \"$0\"\n");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal(Path.Combine(_fixture.ExecutionDir(assignment.ExecutionId), "script") + "\n", _fixture.Server[assignment.ExecutionId].StdoutText);
    }

    [Fact]
    public async Task Reconcile_HostileParameterValues_ArriveByteForByteAndNothingRuns()
    {
        var marker = Path.Combine(_fixture.Root, "pwned");
        string[] values =
        [
            $"$(touch {marker})",
            $"`touch {marker}`",
            "it's \"quoted\" ; | & > <",
            "  spaces  around  ",
            "line1\nline2\n",
            "ünïcødé ✓ 日本",
            "",
            "$HOME ${PATH} * ?",
        ];
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("printf '%s\\0' \"$@\"\nprintf 'ENV\\0%s\\0%s\\0' \"$P_PUBLIC\" \"$P_SECRET\"\n") with
        {
            Parameters = [.. values.Select(v => new AgentParameter { Value = v }), new AgentParameter { Name = "P_PUBLIC", Value = values[0] }],
            ProtectedParameters = [new AgentParameter { Name = "P_SECRET", Value = values[4] + values[1] }],
        };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        var expected = string.Concat(values.Select(v => v + "\0")) + "ENV\0" + values[0] + "\0" + values[4] + values[1] + "\0";
        Assert.Equal(expected, _fixture.Server[assignment.ExecutionId].StdoutText);
        Assert.False(File.Exists(marker));
        // Secrets never reach the disk.
        var stateJson = await File.ReadAllTextAsync(Path.Combine(_fixture.ExecutionDir(assignment.ExecutionId), "state.json"));
        Assert.DoesNotContain("touch", stateJson, StringComparison.Ordinal);
        Assert.Null(Environment.GetEnvironmentVariable("P_SECRET"));
    }

    [Fact]
    public async Task Reconcile_InvalidParameterName_FailsWithoutRunning()
    {
        var marker = Path.Combine(_fixture.Root, "ran");
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment($"touch {marker}") with
        {
            Parameters = [new AgentParameter { Name = "BAD-NAME", Value = "x" }],
        };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Contains("BAD-NAME", final.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));
    }

    // scriptUri failures (with a SAS) are covered by ScriptDownloadTests.
    [Fact]
    public async Task Reconcile_MissingRunAsUser_FailsWithClearMessage()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("true") with { RunAsUser = "no-such-user-xyz", RunAsPassword = "hunter2" };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal("runAsUser 'no-such-user-xyz' does not exist on this machine", final.Message);
        var stateJson = await File.ReadAllTextAsync(Path.Combine(_fixture.ExecutionDir(assignment.ExecutionId), "state.json"));
        Assert.DoesNotContain("hunter2", stateJson, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("id -u\nid -g\necho \"$HOME $USER\"\npwd\necho \"$1\"\n")]
    [InlineData("#!/bin/sh\nid -u\nid -g\necho \"$HOME $USER\"\npwd\necho \"$1\"\n")]
    public async Task Reconcile_RunAsUser_RunsWithThatUsersIdentity(string script)
    {
        var nobody = await UserAccount.LookupAsync("nobody", CancellationToken.None);
        Assert.NotNull(nobody);
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment(script) with
        {
            // No password: the agent is root and needs none (a given one is checked with PAM: RunAsUserTests).
            RunAsUser = "nobody",
            Parameters = [new AgentParameter { Value = "a b" }],
        };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.True(LocalState.Succeeded == final.State, _fixture.Server[assignment.ExecutionId].StderrText);
        var home = Directory.Exists(nobody.Home) ? nobody.Home : "/";
        Assert.Equal($"{nobody.Uid}\n{nobody.Gid}\n{nobody.Home} nobody\n{home}\na b\n", _fixture.Server[assignment.ExecutionId].StdoutText);
    }

    [Fact]
    public async Task Reconcile_SameAssignmentAgain_RunsOnlyOnce()
    {
        var counter = Path.Combine(_fixture.Root, "counter");
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment($"echo run >> {counter}");

        manager.Reconcile(AgentFixture.Goal(assignment));
        manager.Reconcile(AgentFixture.Goal(assignment));
        await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        await manager.WhenAllAsync();
        manager.Reconcile(AgentFixture.Goal(assignment));
        await manager.WhenAllAsync();

        Assert.Equal(["run"], await File.ReadAllLinesAsync(counter));
    }

    [Fact]
    public async Task Reconcile_Script_RunsInTheWrappersSessionInItsDirectoryWithDefaultSignals()
    {
        var (manager, _) = _fixture.NewManager();
        // Session (field 6 of stat, after the command name), the directory, blocked signals, and what SIGPIPE does to
        // the writer of a closed pipe: the agent's runtime ignores SIGPIPE, which a script must not inherit (yes(1)
        // would then fail with "Broken pipe" and exit 1 instead of dying of the signal, 141).
        var assignment = AgentFixture.Assignment(
            """
            stat=$(cat /proc/$$/stat); set -- ${stat##*) }; echo "session $4 wrapper $PPID"
            pwd
            grep SigBlk /proc/self/status
            yes | head -n 1 > /dev/null; echo "yes ${PIPESTATUS[0]}"
            """);

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        var lines = _fixture.Server[assignment.ExecutionId].StdoutText.Split('\n');
        var session = lines[0].Split(' ');
        Assert.Equal(session[1], session[3]);
        Assert.Equal(_fixture.ExecutionDir(assignment.ExecutionId), lines[1]);
        Assert.Equal("SigBlk:\t0000000000000000", lines[2]);
        Assert.Equal("yes 141", lines[3]);
        Assert.Equal("", _fixture.Server[assignment.ExecutionId].StderrText);
    }

    [Fact]
    public async Task Reconcile_SpawnedScript_IsItsOwnProcessGroupLeader()
    {
        var (manager, _) = _fixture.NewManager();
        var go = Path.Combine(_fixture.Root, "go");
        var assignment = AgentFixture.Assignment($"echo $$\n{Gate.WaitFor(go, 0.02)}\n");
        manager.Reconcile(AgentFixture.Goal(assignment));
        var store = new FileExecutionStateStore(_fixture.ExecutionsRoot);
        await AgentFixture.WaitUntilAsync(() => store.Get(assignment.ExecutionId)?.Pid is not null, "the pid is recorded");
        var record = store.Get(assignment.ExecutionId)!;

        var pgid = Posix.GetPgid(record.Pid!.Value);
        await File.WriteAllTextAsync(go, "");
        await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        // The wrapper shell is session and group leader, and the pid we monitor.
        Assert.Equal(record.Pid, pgid);
        Assert.NotEqual(0UL, record.ProcessStartTicks);
    }

    [Fact]
    public async Task Reconcile_OutputWhileRunning_IsShippedBeforeTheEnd()
    {
        var (manager, _) = _fixture.NewManager();
        var go = Path.Combine(_fixture.Root, "go");
        var assignment = AgentFixture.Assignment($"echo first\n{Gate.WaitFor(go, 0.02)}\necho second\n");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var server = _fixture.Server[assignment.ExecutionId];
        await AgentFixture.WaitUntilAsync(() => server.StdoutText == "first\n", "the first line reaches the server");
        Assert.False(server.Terminal.Task.IsCompleted);
        await File.WriteAllTextAsync(go, "");
        var final = await server.WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("first\nsecond\n", server.StdoutText);
    }

    [Fact]
    public async Task Reconcile_OutputLargerThanOneChunk_TerminalStateComesWithTheLastByte()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("head -c 3000000 /dev/zero | tr '\\0' 'a'\necho -n e >&2\n");

        manager.Reconcile(AgentFixture.Goal(assignment));
        var server = _fixture.Server[assignment.ExecutionId];
        var final = await server.WaitForTerminalAsync();

        Assert.Equal(3_000_000, server.Stdout.Length);
        Assert.Equal("e", server.StderrText);
        var reports = server.ReportsSnapshot;
        Assert.Single(reports, r => LocalState.IsTerminal(r.State));
        Assert.Same(final, reports[^1]);
        Assert.All(reports, r => Assert.True((r.Stdout?.Data.Length ?? 0) <= 1024 * 1024));
    }

    [Fact]
    public async Task Reconcile_CancelWhileRunning_KillsWholeGroupIncludingBackgroundChild()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("sleep 600 &\necho $! > bgpid\nsleep 600\n");
        manager.Reconcile(AgentFixture.Goal(assignment));
        var bgPidFile = Path.Combine(_fixture.ExecutionDir(assignment.ExecutionId), "bgpid");
        await AgentFixture.WaitUntilAsync(() => File.Exists(bgPidFile) && File.ReadAllText(bgPidFile).EndsWith('\n'), "the background child started");
        var bgPid = int.Parse(File.ReadAllText(bgPidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var store = new FileExecutionStateStore(_fixture.ExecutionsRoot);
        await AgentFixture.WaitUntilAsync(() => store.Get(assignment.ExecutionId)?.Pid is not null, "the pid is recorded");
        var pgid = store.Get(assignment.ExecutionId)!.Pid!.Value;

        manager.Reconcile(AgentFixture.Goal(assignment with { Cancel = true }));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Canceled, final.State);
        Assert.Null(final.ExitCode);
        AssertGroupGone(pgid, bgPid);
    }

    [Fact]
    public async Task Reconcile_AckSaysCancel_KillsGroup()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("echo started\nsleep 600\n");
        _fixture.Server[assignment.ExecutionId].Cancel = true;

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Canceled, final.State);
    }

    [Fact]
    public async Task Reconcile_Timeout_ReportsTimedOutAndGroupIsGone()
    {
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment("sleep 600 &\necho $! > bgpid\nsleep 600\n") with { TimeoutInSeconds = 1 };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.TimedOut, final.State);
        Assert.Null(final.ExitCode);
        Assert.Equal("Timed out after 1 s", final.Message);
        await manager.WhenAllAsync();
        var record = new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!;
        var bgPid = int.Parse(File.ReadAllText(Path.Combine(_fixture.ExecutionDir(assignment.ExecutionId), "bgpid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        AssertGroupGone(record.Pid!.Value, bgPid);
        Assert.True(record.Reported);
    }

    [Fact]
    public async Task Reconcile_TimeoutWithScriptIgnoringSigterm_KillsGroupAfterGrace()
    {
        var settings = AgentFixture.FastSettings with { TerminationGracePeriod = TimeSpan.FromMilliseconds(300) };
        var (manager, _) = _fixture.NewManager(settings: settings);
        var assignment = AgentFixture.Assignment("trap '' TERM\nsleep 600 &\necho $! > bgpid\nwait\n") with { TimeoutInSeconds = 1 };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.TimedOut, final.State);
        var record = new FileExecutionStateStore(_fixture.ExecutionsRoot).Get(assignment.ExecutionId)!;
        var bgPid = int.Parse(File.ReadAllText(Path.Combine(_fixture.ExecutionDir(assignment.ExecutionId), "bgpid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        AssertGroupGone(record.Pid!.Value, bgPid);
    }

    [Fact]
    public async Task Reconcile_CancelOfUnknownExecution_ReportsCanceledAndNeverStartsIt()
    {
        var marker = Path.Combine(_fixture.Root, "ran");
        var (manager, _) = _fixture.NewManager();
        var assignment = AgentFixture.Assignment($"touch {marker}") with { Cancel = true };

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        await manager.WhenAllAsync();
        manager.Reconcile(AgentFixture.Goal(assignment with { Cancel = false }));
        await manager.WhenAllAsync();

        Assert.Equal(LocalState.Canceled, final.State);
        Assert.True(Directory.Exists(_fixture.ExecutionDir(assignment.ExecutionId)));
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task Reconcile_ParallelExecutions_RunAtTheSameTime()
    {
        var (manager, _) = _fixture.NewManager();
        var a = Path.Combine(_fixture.Root, "a");
        var b = Path.Combine(_fixture.Root, "b");
        // Each waits for the other's file: only finishes if both run concurrently.
        var first = AgentFixture.Assignment($"touch {a}\n{Gate.WaitFor(b, 0.02)}\n");
        var second = AgentFixture.Assignment($"touch {b}\n{Gate.WaitFor(a, 0.02)}\n");

        manager.Reconcile(AgentFixture.Goal(first, second));

        Assert.Equal(LocalState.Succeeded, (await _fixture.Server[first.ExecutionId].WaitForTerminalAsync()).State);
        Assert.Equal(LocalState.Succeeded, (await _fixture.Server[second.ExecutionId].WaitForTerminalAsync()).State);
    }

    [Fact]
    public async Task Reconcile_InMemoryStore_RunsScript()
    {
        var (manager, _) = _fixture.NewManager(store: new InMemoryExecutionStateStore());
        Directory.CreateDirectory(_fixture.ExecutionsRoot);
        var assignment = AgentFixture.Assignment("echo hi");
        Directory.CreateDirectory(_fixture.ExecutionDir(assignment.ExecutionId));

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("hi\n", _fixture.Server[assignment.ExecutionId].StdoutText);
    }

    /// <summary>
    /// The group has no live member. kill(-pgid, 0) is ESRCH on a normal system; where pid 1 does not reap
    /// orphans (some containers) only zombies may remain, which run nothing.
    /// </summary>
    internal static void AssertGroupGone(int pgid, int backgroundPid)
    {
        Assert.False(Posix.IsGroupAlive(pgid));
        var killResult = Posix.Kill(-pgid, 0);
        Assert.True(killResult == Posix.ESrch || OnlyZombiesIn(pgid), $"kill(-{pgid}, 0) returned {killResult}");
        var stat = ProcStat.TryRead(backgroundPid);
        Assert.True(stat is null || stat.Value.State == 'Z' || stat.Value.ProcessGroup != pgid, "the background child survived");
    }

    private static bool OnlyZombiesIn(int pgid) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? ProcStat.TryRead(pid) : null)
            .Where(s => s?.ProcessGroup == pgid)
            .All(s => s!.Value.State == 'Z');

    [Fact]
    public async Task Reconcile_ScriptWritesManyChunksAtOnce_ShipsThemBeforeTheNextTick()
    {
        // One tick an hour and 1 KiB chunks: only back-to-back reports can bring 64 KiB to the server while it runs.
        var settings = AgentFixture.FastSettings with
        {
            ProgressInterval = TimeSpan.FromHours(1),
            // Long enough for the script to have written all of it before the first report.
            FirstReportDelay = TimeSpan.FromSeconds(3),
            MaxChunkBytes = 1024,
        };
        var (manager, _) = _fixture.NewManager(settings: settings);
        var assignment = AgentFixture.Assignment("head -c 65536 /dev/zero | tr '\\0' x; sleep 60");

        manager.Reconcile(AgentFixture.Goal(assignment));

        await AgentFixture.WaitUntilAsync(() => _fixture.Server[assignment.ExecutionId].StdoutText.Length == 65536,
            "all 64 KiB of stdout to reach the server while the script still runs");
        Assert.False(_fixture.Server[assignment.ExecutionId].Terminal.Task.IsCompleted);
    }
}
