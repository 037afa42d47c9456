using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using RunCommand.Agent.Protocol;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>The agent against a real HTTP server (Kestrel on 127.0.0.1): enrollment, long poll, reports.</summary>
public sealed class AgentServiceTests : IDisposable
{
    private readonly AgentFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private AgentOptions Options(Uri server)
    {
        var tokenFile = Path.Combine(_fixture.Root, "enroll.token");
        File.WriteAllText(tokenFile, KestrelFakeServer.EnrollmentToken + "\n");
        return new AgentOptions
        {
            Servers = [server],
            VmName = "vm1",
            ResourceGroup = "rg1",
            StateDirectory = Path.Combine(_fixture.Root, "state"),
            EnrollTokenFile = tokenFile,
        };
    }

    private static AgentService Service(AgentOptions options, AgentClient client) =>
        new(options, client, TimeProvider.System, new ConsoleLogger(TimeProvider.System, LogLevel.Debug, TextWriter.Null));

    /// <summary>
    /// An agent whose next poll would wait up to a minute for the first reports of new executions: long enough that a
    /// poll arriving while the server holds a report can only come from the rule that polls at once.
    /// </summary>
    private static AgentService PatientService(AgentOptions options, AgentClient client) =>
        new(options, client, TimeProvider.System, new ConsoleLogger(TimeProvider.System, LogLevel.Debug, TextWriter.Null))
        {
            FirstReportsWaitFor = TimeSpan.FromMinutes(1),
        };

    private static int PollsSoFar(KestrelFakeServer server)
    {
        lock (server.PollArrivals)
        {
            return server.PollArrivals.Count;
        }
    }

    [Fact]
    public async Task RunAsync_VersionOnlyOnTheFirstPollAfterStartingWithASavedCredential()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        server.AnnouncedPollSeconds = 1;
        var options = Options(server.BaseAddress);
        for (var start = 0; start < 2; start++)
        {
            lock (server.PollAgentVersions)
            {
                server.PollAgentVersions.Clear();
            }

            using var client = new AgentClient(server.BaseAddress, null);
            using var shutdown = new CancellationTokenSource();
            var run = Service(options, client).RunAsync(shutdown.Token);
            await AgentFixture.WaitUntilAsync(() => { lock (server.PollAgentVersions) { return server.PollAgentVersions.Count >= 3; } }, "three polls");
            await shutdown.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(30));

            List<string?> sent;
            lock (server.PollAgentVersions)
            {
                sent = [.. server.PollAgentVersions];
            }

            // The first start enrolls (its enrollment carried the version); the second starts with the saved token, as an
            // upgraded agent does, and says its version once.
            Assert.Equal(start == 0 ? null : AgentService.Version, sent[0]);
            Assert.All(sent.Skip(1), Assert.Null);
        }
    }

    [Fact]
    public async Task RunAsync_AfterAnIdleSpell_PollsAgainOnlyOnceTheNewCommandsFirstReportIsAnswered()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        using var client = new AgentClient(server.BaseAddress, null);
        using var shutdown = new CancellationTokenSource();
        var run = PatientService(Options(server.BaseAddress), client).RunAsync(shutdown.Token);
        // The first poll is answered at once; the second is held.
        await AgentFixture.WaitUntilAsync(() => PollsSoFar(server) == 2, "the agent holds a poll");
        // Enrolled and polling, no report yet: the enrollment's connection is the poll's, so none is left open beside it.
        Assert.False(client.SideConnectionWarm);

        var reportAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ReportsHeldUntil = reportAnswered.Task;
        server.SetAssignments(AgentFixture.Assignment("echo hi", "exec-idle"));
        await AgentFixture.WaitUntilAsync(() => server.ReportsArrived == 1, "the first report arrives");
        await Task.Delay(500);
        Assert.Equal(2, PollsSoFar(server));

        reportAnswered.SetResult();
        await AgentFixture.WaitUntilAsync(() => PollsSoFar(server) == 3, "the agent polls again once the report is answered");
        var final = await server.Reports["exec-idle"].WaitForTerminalAsync();
        await shutdown.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.True(client.SideConnectionWarm);
    }

    [Fact]
    public async Task RunAsync_CommandsKeepComing_PollsAgainAtOnce_WhileTheNewCommandsFirstReportIsStillHeld()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        using var client = new AgentClient(server.BaseAddress, null);
        using var shutdown = new CancellationTokenSource();
        var run = PatientService(Options(server.BaseAddress), client).RunAsync(shutdown.Token);
        await AgentFixture.WaitUntilAsync(() => PollsSoFar(server) == 2, "the agent holds a poll");
        var first = AgentFixture.Assignment("echo first", "exec-first");
        server.SetAssignments(first);
        await server.Reports["exec-first"].WaitForTerminalAsync();
        await AgentFixture.WaitUntilAsync(() => PollsSoFar(server) == 3, "the agent holds its next poll");
        // A report was answered a moment ago: its connection is still open beside the poll.
        Assert.True(client.SideConnectionWarm);

        var reportAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ReportsHeldUntil = reportAnswered.Task;
        var reportsBefore = server.ReportsArrived;
        server.SetAssignments(first, AgentFixture.Assignment("echo second", "exec-second"));
        await AgentFixture.WaitUntilAsync(() => server.ReportsArrived > reportsBefore, "the second command's first report arrives");
        await AgentFixture.WaitUntilAsync(() => PollsSoFar(server) == 4, "the agent polls again while that report is held");

        reportAnswered.SetResult();
        var final = await server.Reports["exec-second"].WaitForTerminalAsync();
        await shutdown.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("second\n", server.Reports["exec-second"].StdoutText);
    }

    [Fact]
    public async Task RunAsync_FreshStateDir_EnrollsThenRunsAssignmentsFromTheLongPoll()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        var options = Options(server.BaseAddress);
        using var client = new AgentClient(server.BaseAddress, null);
        using var shutdown = new CancellationTokenSource();
        var run = Service(options, client).RunAsync(shutdown.Token);

        // Assigned after enrollment, so it most likely reaches the agent through a waiting long poll.
        await AgentFixture.WaitUntilAsync(() => server.Enrollments.Count == 1, "the agent enrolls");
        var assignment = AgentFixture.Assignment("echo \"hi $1\"", "exec1") with { Parameters = [new AgentParameter { Value = "there" }] };
        server.SetAssignments(assignment);
        var final = await server.Reports["exec1"].WaitForTerminalAsync();
        await shutdown.CancelAsync();
        var exitCode = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, exitCode);
        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("hi there\n", server.Reports["exec1"].StdoutText);
        Assert.Equal("vm1", server.Enrollments[0].VmName);
        Assert.Equal("rg1", server.Enrollments[0].ResourceGroup);
        var tokenPath = Path.Combine(options.StateDirectory, "agent.token");
        Assert.Equal(KestrelFakeServer.IssuedToken, await File.ReadAllTextAsync(tokenPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(options.StateDirectory));
    }

    [Fact]
    public async Task RunAsync_ServerAnnouncesPollLength_LaterPollsAskForIt()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        server.AnnouncedPollSeconds = 2;
        using var client = new AgentClient(server.BaseAddress, null);
        using var shutdown = new CancellationTokenSource();
        var run = Service(Options(server.BaseAddress), client).RunAsync(shutdown.Token);

        // The first poll (version -1) is answered at once and announces 2 s; every later one asks for 2 s and is held that long.
        await AgentFixture.WaitUntilAsync(() => { lock (server.AskedWaits) { return server.AskedWaits.Count >= 3; } }, "three polls");
        await shutdown.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        List<int> asked;
        lock (server.AskedWaits)
        {
            asked = [.. server.AskedWaits];
        }

        Assert.Equal((int)AgentClient.DefaultLongPollWait.TotalSeconds, asked[0]);
        Assert.All(asked.Skip(1), wait => Assert.Equal(2, wait));
        Assert.Equal(TimeSpan.FromSeconds(2), client.LongPollWait);
    }

    [Fact]
    public async Task GetGoalStateAsync_ServerAnnouncesNoPollLength_KeepsTheDefault()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        using var client = new AgentClient(server.BaseAddress, null) { AgentToken = KestrelFakeServer.IssuedToken };

        await client.GetGoalStateAsync(-1, client.LongPollWait, CancellationToken.None);

        Assert.Equal(AgentClient.DefaultLongPollWait, client.LongPollWait);
    }

    [Fact]
    public async Task RunAsync_ServerTakesKeys_SavesPrivateKeyAndSignsEveryCall()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        server.AcceptKeys = true;
        var options = Options(server.BaseAddress);
        using var client = new AgentClient(server.BaseAddress, null);
        using var shutdown = new CancellationTokenSource();
        var run = Service(options, client).RunAsync(shutdown.Token);

        await AgentFixture.WaitUntilAsync(() => server.Enrollments.Count == 1, "the agent enrolls");
        server.SetAssignments(AgentFixture.Assignment("echo signed", "exec-key"));
        var final = await server.Reports["exec-key"].WaitForTerminalAsync();
        await shutdown.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(LocalState.Succeeded, final.State);
        var keyPath = Path.Combine(options.StateDirectory, "agent.key");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
        Assert.False(File.Exists(Path.Combine(options.StateDirectory, "agent.token")));
        using var saved = ECDsa.Create();
        saved.ImportFromPem(await File.ReadAllTextAsync(keyPath));
        // The enrollment sent the public half of the saved key, and nothing of its private half.
        Assert.Equal(Convert.ToBase64String(saved.ExportSubjectPublicKeyInfo()), server.Enrollments[0].PublicKey);
        var resourceId = "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1";
        Assert.Equal(resourceId + "\n", await File.ReadAllTextAsync(Path.Combine(options.StateDirectory, "agent.identity")));
        Assert.NotEmpty(server.AgentAuthorizations);
        Assert.All(server.AgentAuthorizations, header =>
        {
            Assert.True(AgentAssertion.TryParse(header["Bearer ".Length..], out var id, out _, out var payload, out var signature));
            Assert.Equal(resourceId, id);
            Assert.True(AgentAssertion.Verify(saved.ExportSubjectPublicKeyInfo(), payload, signature));
        });
    }

    [Fact]
    public async Task RunAsync_SavedKeyAndIdentity_UsesThemWithoutEnrolling()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        server.AcceptKeys = true;
        var options = Options(server.BaseAddress);
        using (var client = new AgentClient(server.BaseAddress, null))
        using (var shutdown = new CancellationTokenSource())
        {
            var first = Service(options, client).RunAsync(shutdown.Token);
            await AgentFixture.WaitUntilAsync(() => server.AgentAuthorizations.Count > 0, "the agent polls");
            await shutdown.CancelAsync();
            await first.WaitAsync(TimeSpan.FromSeconds(30));
        }

        var key = await File.ReadAllTextAsync(Path.Combine(options.StateDirectory, "agent.key"));
        using (var client = new AgentClient(server.BaseAddress, null))
        using (var shutdown = new CancellationTokenSource())
        {
            var second = Service(options, client).RunAsync(shutdown.Token);
            server.SetAssignments(AgentFixture.Assignment("echo again", "exec-again"));
            Assert.Equal(LocalState.Succeeded, (await server.Reports["exec-again"].WaitForTerminalAsync()).State);
            await shutdown.CancelAsync();
            Assert.Equal(0, await second.WaitAsync(TimeSpan.FromSeconds(30)));
        }

        Assert.Single(server.Enrollments);
        Assert.Equal(key, await File.ReadAllTextAsync(Path.Combine(options.StateDirectory, "agent.key")));
    }

    [Fact]
    public async Task RunAsync_PollAnswered429WithRetryAfter_WaitsAtLeastThatLongBeforePollingAgain()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        server.BusyPolls = 1;
        server.BusyRetryAfterSeconds = 2;
        var options = Options(server.BaseAddress);
        using var client = new AgentClient(server.BaseAddress, null);
        using var shutdown = new CancellationTokenSource();
        var run = Service(options, client).RunAsync(shutdown.Token);

        // The first poll is refused; without Retry-After the back-off's first wait is at most 0.5 s.
        await AgentFixture.WaitUntilAsync(() => server.PollArrivals.Count >= 2, "the agent polls again after the 429");
        await shutdown.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));

        long first, second;
        lock (server.PollArrivals)
        {
            (first, second) = (server.PollArrivals[0], server.PollArrivals[1]);
        }

        Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(first, second) >= TimeSpan.FromSeconds(1.95),
            $"the second poll came {System.Diagnostics.Stopwatch.GetElapsedTime(first, second).TotalSeconds:F2} s after the 429 asking for 2 s");
    }

    [Fact]
    public async Task RunAsync_FirstServerRefusesConnections_EnrollsAndRunsOnTheNext()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        var dead = new Uri($"http://127.0.0.1:{FreePort()}/");
        var options = Options(server.BaseAddress) with { Servers = [dead, server.BaseAddress] };
        using var client = new AgentClient(new ServerEndpoints(options.Servers), null);
        using var shutdown = new CancellationTokenSource();
        var run = Service(options, client).RunAsync(shutdown.Token);

        await AgentFixture.WaitUntilAsync(() => server.Enrollments.Count == 1, "the agent enrolls through the second URL");
        server.SetAssignments(AgentFixture.Assignment("echo second", "exec-next"));
        var final = await server.Reports["exec-next"].WaitForTerminalAsync();
        await shutdown.CancelAsync();

        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("second\n", server.Reports["exec-next"].StdoutText);
        Assert.Equal(server.BaseAddress, client.Servers.Current);
    }

    [Fact]
    public async Task RunAsync_ServerStopsWhileScriptRuns_MovesToTheNextWhichGetsTheRestOfTheOutput()
    {
        await using var first = await KestrelFakeServer.StartAsync();
        await using var second = await KestrelFakeServer.StartAsync();
        var options = Options(first.BaseAddress) with { Servers = [first.BaseAddress, second.BaseAddress] };
        using var client = new AgentClient(new ServerEndpoints(options.Servers), null);
        using var shutdown = new CancellationTokenSource();
        var run = Service(options, client).RunAsync(shutdown.Token);
        await AgentFixture.WaitUntilAsync(() => first.Enrollments.Count == 1, "the agent enrolls");
        var marker = Path.Combine(_fixture.Root, "go-on");
        var assignment = AgentFixture.Assignment($"echo before\n{Gate.WaitFor(marker)}\necho after\n", "exec-move");
        first.SetAssignments(assignment);
        second.SetAssignments(assignment);
        await AgentFixture.WaitUntilAsync(() => first.Reports["exec-move"].StdoutText == "before\n", "the script runs, reported to the first server");

        // The first node stops (503 to every call, as a stopping server answers): the agent moves to the second,
        // which holds no output yet and gets all of it, once, with the terminal state.
        var stopped = DateTimeOffset.UtcNow;
        first.Stopping = true;
        await AgentFixture.WaitUntilAsync(() => client.Servers.Current == second.BaseAddress, "the agent moves to the second server");
        var moved = DateTimeOffset.UtcNow - stopped;
        await File.WriteAllTextAsync(marker, "");
        var final = await second.Reports["exec-move"].WaitForTerminalAsync();
        // The agent had sent "before" to the first node; the second acknowledges what it holds, so it is sent again.
        await AgentFixture.WaitUntilAsync(() => second.Reports["exec-move"].StdoutText == "before\nafter\n", "all output reaches the second server");
        await shutdown.CancelAsync();

        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.True(moved < TimeSpan.FromSeconds(5), $"moved after {moved}");
    }

    [Fact]
    public void MoveOn_ManyCallsFailOnOneNode_MovesOnceAndBacksOffAfterAFullRound()
    {
        var a = new Uri("http://a/");
        var b = new Uri("http://b/");
        var servers = new ServerEndpoints([a, b]);

        Parallel.For(0, 50, _ => servers.MoveOn(a));
        Assert.Equal(b, servers.Current);
        Assert.True(servers.UntriedNodeLeft);

        servers.MoveOn(b);
        Assert.Equal(a, servers.Current);
        Assert.False(servers.UntriedNodeLeft);

        servers.Succeeded();
        Assert.True(servers.UntriedNodeLeft);
    }

    [Fact]
    public void MoveOn_SingleUrl_StaysAndBacksOff()
    {
        var only = new Uri("http://lb/");
        var servers = new ServerEndpoints([only]);

        Assert.Equal(only, servers.MoveOn(only));
        Assert.False(servers.UntriedNodeLeft);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public void Assertion_EveryCall_IsFreshlySignedWithItsOwnNonce()
    {
        var time = new ManualTime(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        using var credential = new AgentKeyCredential(AgentAssertion.NewKey(), "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", time);

        // The server accepts each assertion once: two calls in the same second must not share one.
        var first = credential.Assertion();
        var second = credential.Assertion();

        Assert.NotEqual(first, second);
        Assert.True(AgentAssertion.TryParse(first, out _, out var issued, out var firstPayload, out _));
        Assert.True(AgentAssertion.TryParse(second, out _, out _, out var secondPayload, out _));
        Assert.Equal(time.Now, issued);
        Assert.NotEqual(firstPayload, secondPayload);
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task RunAsync_SavedTokenRejected_ExitsWithUnauthorized()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        var options = Options(server.BaseAddress);
        Directory.CreateDirectory(options.StateDirectory);
        await File.WriteAllTextAsync(Path.Combine(options.StateDirectory, "agent.token"), "revoked-token");
        using var client = new AgentClient(server.BaseAddress, null);

        var exitCode = await Service(options, client).RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(AgentService.ExitUnauthorized, exitCode);
        Assert.Empty(server.Enrollments);
    }

    [Fact]
    public async Task RunAsync_OnePollRefused_PollsAgainAtOnceWithANewAssertionAndRunsOn()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        server.AcceptKeys = true;
        var options = Options(server.BaseAddress);
        using var client = new AgentClient(server.BaseAddress, null);
        using var shutdown = new CancellationTokenSource();
        var run = Service(options, client).RunAsync(shutdown.Token);
        await AgentFixture.WaitUntilAsync(() => PollsSoFar(server) >= 1, "the agent polls");

        // The poll held now was let through; the one after this command's report is refused, as a server refuses a
        // request sent twice on the way (a replay): the agent must poll again, not take its credential for revoked.
        Interlocked.Exchange(ref server.RefusedPolls, 1);
        server.SetAssignments(AgentFixture.Assignment("echo one", "before-refusal"));
        await server.Reports["before-refusal"].WaitForTerminalAsync();
        await AgentFixture.WaitUntilAsync(() => Volatile.Read(ref server.RefusedPolls) < 0, "a poll refused and the next one let through");
        server.SetAssignments(AgentFixture.Assignment("echo two", "after-refusal"));
        var after = await server.Reports["after-refusal"].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, after.State);
        Assert.False(run.IsCompleted, "the agent exited after one refused poll");
        await shutdown.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        // Each call signed its own assertion: the poll after the refusal did not send the refused one again.
        Assert.Equal(server.AgentAuthorizations.Count, server.AgentAuthorizations.Distinct().Count());
    }

    [Fact]
    public async Task RunAsync_TwoPollsInARowRefused_ExitsWithUnauthorized()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        server.AcceptKeys = true;
        var options = Options(server.BaseAddress);
        using var client = new AgentClient(server.BaseAddress, null);
        var run = Service(options, client).RunAsync(CancellationToken.None);
        await AgentFixture.WaitUntilAsync(() => PollsSoFar(server) >= 1, "the agent polls");

        // The poll held now was let through; the next two are refused, as a revoked credential's are.
        Interlocked.Exchange(ref server.RefusedPolls, 2);
        server.SetAssignments(AgentFixture.Assignment("echo one", "before-revocation"));

        Assert.Equal(AgentService.ExitUnauthorized, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(Volatile.Read(ref server.RefusedPolls) == 0, "the agent exited before its second poll was refused");
    }

    [Fact]
    public async Task RunAsync_TokenRevokedWhileScriptRuns_ExitsPromptlyLeavingScriptRunning()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        var options = Options(server.BaseAddress);
        using var client = new AgentClient(server.BaseAddress, null);
        var run = Service(options, client).RunAsync(CancellationToken.None);
        await AgentFixture.WaitUntilAsync(() => server.Enrollments.Count == 1, "the agent enrolls");
        var assignment = AgentFixture.Assignment("echo started\nsleep 600\n", "long1");
        server.SetAssignments(assignment);
        await AgentFixture.WaitUntilAsync(() => server.Reports["long1"].StdoutText == "started\n", "the script runs");

        server.AcceptedAgentToken = "someone-else";
        server.SetAssignments(assignment);
        var exitCode = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(AgentService.ExitUnauthorized, exitCode);
        var record = new FileExecutionStateStore(Path.Combine(options.StateDirectory, "executions")).Get("long1")!;
        Assert.Equal(LocalState.Running, record.State);
        Assert.True(Execution.Posix.IsGroupAlive(record.Pid!.Value));
        Assert.Equal(0, Execution.Posix.Kill(-record.Pid.Value, Execution.Posix.SigKill));
    }

    [Fact]
    public async Task RunAsync_WrongEnrollmentToken_ExitsWithUnauthorized()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        var options = Options(server.BaseAddress);
        await File.WriteAllTextAsync(options.EnrollTokenFile, "wrong");
        using var client = new AgentClient(server.BaseAddress, null);

        var exitCode = await Service(options, client).RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(AgentService.ExitUnauthorized, exitCode);
        Assert.False(File.Exists(Path.Combine(options.StateDirectory, "agent.token")));
    }

    [Fact]
    public async Task EnrollAsync_HttpsWithPinnedSelfSignedCert_Succeeds()
    {
        using var certificate = SelfSigned("CN=localhost");
        await using var server = await KestrelFakeServer.StartAsync(certificate);
        var https = new UriBuilder(server.BaseAddress) { Scheme = "https" }.Uri;
        using var trusted = X509CertificateLoader.LoadCertificate(certificate.RawData);
        using var client = new AgentClient(https, trusted);

        var response = await client.EnrollAsync(KestrelFakeServer.EnrollmentToken, new EnrollRequest { ResourceGroup = "rg", VmName = "vm" }, CancellationToken.None);

        Assert.Equal(KestrelFakeServer.IssuedToken, response.AgentToken);
    }

    [Fact]
    public async Task EnrollAsync_HttpsWithOtherCert_IsRefused()
    {
        using var certificate = SelfSigned("CN=localhost");
        using var other = SelfSigned("CN=localhost");
        await using var server = await KestrelFakeServer.StartAsync(certificate);
        var https = new UriBuilder(server.BaseAddress) { Scheme = "https" }.Uri;
        using var trusted = X509CertificateLoader.LoadCertificate(other.RawData);
        using var client = new AgentClient(https, trusted);

        await Assert.ThrowsAsync<HttpRequestException>(() =>
            client.EnrollAsync(KestrelFakeServer.EnrollmentToken, new EnrollRequest { ResourceGroup = "rg", VmName = "vm" }, CancellationToken.None));
    }

    [Fact]
    public async Task EnrollAsync_HttpsWithPinnedFingerprint_SucceedsOnlyForThatCertificate()
    {
        using var certificate = SelfSigned("CN=some-other-name");
        using var other = SelfSigned("CN=localhost");
        await using var server = await KestrelFakeServer.StartAsync(certificate);
        var https = new UriBuilder(server.BaseAddress) { Scheme = "https" }.Uri;
        var request = new EnrollRequest { ResourceGroup = "rg", VmName = "vm" };

        // The fingerprint as the server logs it (hex), with colons as some tools print it.
        var pinned = AgentClient.ParseFingerprint(string.Join(':', Convert.ToHexString(SHA256.HashData(certificate.RawData)).Chunk(2).Select(c => new string(c))));
        using var client = new AgentClient(https, null, pinned);
        Assert.Equal(KestrelFakeServer.IssuedToken, (await client.EnrollAsync(KestrelFakeServer.EnrollmentToken, request, CancellationToken.None)).AgentToken);

        using var wrong = new AgentClient(https, null, SHA256.HashData(other.RawData));
        await Assert.ThrowsAsync<HttpRequestException>(() => wrong.EnrollAsync(KestrelFakeServer.EnrollmentToken, request, CancellationToken.None));
    }

    [Fact]
    public async Task EnrollAsync_HttpsWithCertificateOfTheGivenCa_SucceedsOnlyForThatCa()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest("CN=Test Root", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=server", leafKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        leafRequest.CertificateExtensions.Add(san.Build());
        using var issued = leafRequest.Create(root, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
        using var withKey = issued.CopyWithPrivateKey(leafKey);
        using var leaf = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
        await using var server = await KestrelFakeServer.StartAsync(leaf);
        var https = new UriBuilder(server.BaseAddress) { Scheme = "https" }.Uri;
        var request = new EnrollRequest { ResourceGroup = "rg", VmName = "vm" };
        using var trustedRoot = X509CertificateLoader.LoadCertificate(root.RawData);
        using var otherRoot = SelfSigned("CN=Other Root");
        using var otherTrusted = X509CertificateLoader.LoadCertificate(otherRoot.RawData);

        // The handshake's own chain has the given CA as its only root (AgentClient.PinnedChainPolicy).
        using var client = new AgentClient(https, trustedRoot);
        Assert.Equal(KestrelFakeServer.IssuedToken, (await client.EnrollAsync(KestrelFakeServer.EnrollmentToken, request, CancellationToken.None)).AgentToken);

        using var wrong = new AgentClient(https, otherTrusted);
        await Assert.ThrowsAsync<HttpRequestException>(() => wrong.EnrollAsync(KestrelFakeServer.EnrollmentToken, request, CancellationToken.None));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000000")]
    public void ParseFingerprint_NotASha256_IsNull(string text) => Assert.Null(AgentClient.ParseFingerprint(text));

    [Fact]
    public void IsTrusted_LeafIssuedByGivenRoot_IsTrusted()
    {
        using var rootKey = RSA.Create(2048);
        var rootRequest = new CertificateRequest("CN=Test Root", rootKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var leafKey = RSA.Create(2048);
        var leafRequest = new CertificateRequest("CN=server", leafKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var leaf = leafRequest.Create(root, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
        using var unrelated = SelfSigned("CN=Other Root");

        Assert.True(AgentClient.IsTrusted(leaf, null, SslPolicyErrors.RemoteCertificateChainErrors, root));
        Assert.False(AgentClient.IsTrusted(leaf, null, SslPolicyErrors.RemoteCertificateChainErrors, unrelated));
        Assert.False(AgentClient.IsTrusted(leaf, null, SslPolicyErrors.RemoteCertificateNameMismatch, root));
    }

    private static X509Certificate2 SelfSigned(string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        // Round-trip through PKCS#12 so Kestrel's SslStream can use the private key on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }
}
