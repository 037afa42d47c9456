using System.Text;
using Microsoft.Extensions.Logging;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

public sealed class ScriptDownloadTests : IDisposable
{
    private const string Sas = "?sv=2024-01-01&sr=b&sig=TOPSECRETSIGNATURE";
    private readonly AgentFixture _fixture = new();
    private readonly StringWriter _log = new();

    public void Dispose() => _fixture.Dispose();

    private static ExecutionSettings Settings(TimeSpan? timeout = null, long maxBytes = 256 * 1024) => AgentFixture.FastSettings with
    {
        ScriptDownloadTimeout = timeout ?? TimeSpan.FromSeconds(20),
        ScriptDownloadRetryInitialDelay = TimeSpan.FromMilliseconds(20),
        ScriptDownloadRetryMaxDelay = TimeSpan.FromMilliseconds(100),
        MaxScriptBytes = maxBytes,
    };

    private async Task<(Contracts.Agents.ExecutionReport Final, string Id)> RunAsync(string scriptUri, ExecutionSettings settings)
    {
        var shutdown = new CancellationTokenSource();
        var manager = new ExecutionManager(
            _fixture.ExecutionsRoot, new FileExecutionStateStore(_fixture.ExecutionsRoot), _fixture.Server, settings,
            TimeProvider.System, new ConsoleLogger(TimeProvider.System, LogLevel.Debug, _log), shutdown.Token);
        var assignment = AgentFixture.Assignment("unused") with { Script = null, ScriptUri = scriptUri };
        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        await manager.WhenAllAsync();
        return (final, assignment.ExecutionId);
    }

    private void AssertNoSasOnDisk()
    {
        foreach (var file in Directory.EnumerateFiles(_fixture.Root, "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain("TOPSECRETSIGNATURE", File.ReadAllText(file), StringComparison.Ordinal);
        }

        Assert.DoesNotContain("TOPSECRETSIGNATURE", _log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunNew_ScriptUriWithSas_DownloadsWithTheQueryAndRuns()
    {
        await using var http = new ScriptHttpServer((_, _) => ScriptAnswer.Text("#!/bin/bash\necho downloaded $((1+2))\n"));

        var (final, id) = await RunAsync(http.Url("/c/s.sh" + Sas), Settings());

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("downloaded 3\n", _fixture.Server[id].StdoutText);
        Assert.Equal("/c/s.sh" + Sas, Assert.Single(http.Requests));
        var mode = File.GetUnixFileMode(Path.Combine(_fixture.ExecutionDir(id), "script"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, mode);
        AssertNoSasOnDisk();
    }

    [Fact]
    public async Task RunNew_ScriptWithBomAndCrlf_RunsAsIfWrittenOnLinux()
    {
        var body = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes("x=1\r\nif [ \"$x\" = 1 ]; then\r\n  echo \"ok$x\"\r\nfi\r\n")).ToArray();
        await using var http = new ScriptHttpServer((_, _) => new ScriptAnswer(200, body));

        var (final, id) = await RunAsync(http.Url("/s.sh"), Settings());

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("ok1\n", _fixture.Server[id].StdoutText);
        Assert.Equal("x=1\nif [ \"$x\" = 1 ]; then\n  echo \"ok$x\"\nfi\n", File.ReadAllText(Path.Combine(_fixture.ExecutionDir(id), "script")));
    }

    [Fact]
    public async Task RunNew_NotFound_FailsNamingStatusAndHostWithoutQuery()
    {
        await using var http = new ScriptHttpServer((_, _) => ScriptAnswer.Text("no", 404));

        var (final, id) = await RunAsync(http.Url("/missing.sh" + Sas), Settings());

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal($"Script download failed: HTTP 404 from host {http.HostAndPort}", final.Message);
        Assert.Single(http.Requests);
        Assert.False(File.Exists(Path.Combine(_fixture.ExecutionDir(id), "script")));
        AssertNoSasOnDisk();
    }

    [Fact]
    public async Task RunNew_ServerErrorThenSuccess_RetriesAndRuns()
    {
        await using var http = new ScriptHttpServer((_, n) => n < 3 ? ScriptAnswer.Text("busy", n == 1 ? 503 : 429) : ScriptAnswer.Text("echo third time"));

        var (final, id) = await RunAsync(http.Url("/s.sh" + Sas), Settings());

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("third time\n", _fixture.Server[id].StdoutText);
        Assert.Equal(3, http.Requests.Count);
        var notes = _fixture.Server[id].ReportsSnapshot.Where(r => r.State == LocalState.Pending).Select(r => r.Message).ToList();
        Assert.Equal(2, notes.Count);
        Assert.StartsWith($"Script download: attempt 1 of 8 failed: HTTP 503 from host {http.HostAndPort}; retrying in ", notes[0], StringComparison.Ordinal);
        Assert.StartsWith($"Script download: attempt 2 of 8 failed: HTTP 429 from host {http.HostAndPort}; retrying in ", notes[1], StringComparison.Ordinal);
        AssertNoSasOnDisk();
    }

    [Fact]
    public async Task RunNew_UnresolvableHost_ReportsEachAttemptAndGivesUpAfterThree()
    {
        var (final, id) = await RunAsync("https://nonexistent.invalid/x.sh" + Sas, Settings());

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal("Script download failed: cannot resolve host nonexistent.invalid: the name does not exist (gave up after 3 attempts)", final.Message);
        var notes = _fixture.Server[id].ReportsSnapshot.Where(r => r.State == LocalState.Pending).Select(r => r.Message!).ToList();
        Assert.Equal(2, notes.Count);
        for (var i = 0; i < notes.Count; i++)
        {
            Assert.StartsWith($"Script download: attempt {i + 1} of 3 failed: cannot resolve host nonexistent.invalid: the name does not exist; retrying in ", notes[i], StringComparison.Ordinal);
        }

        AssertNoSasOnDisk();
    }

    [Fact]
    public async Task RunNew_ScriptOverTheLimit_Fails()
    {
        await using var http = new ScriptHttpServer((_, _) => ScriptAnswer.Text(new string('#', 2000)));

        var (final, _) = await RunAsync(http.Url("/big.sh"), Settings(maxBytes: 1000));

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Contains("more than the limit of 1000 bytes", final.Message, StringComparison.Ordinal);
        Assert.Contains(http.HostAndPort, final.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunNew_ServerNeverAnswers_FailsWithinTheTimeout()
    {
        await using var http = new ScriptHttpServer((_, _) => new ScriptAnswer(200, [], Hang: true));
        var started = DateTime.UtcNow;

        var (final, _) = await RunAsync(http.Url("/slow.sh" + Sas), Settings(timeout: TimeSpan.FromSeconds(1)));

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal($"Script download failed: no complete answer from host {http.HostAndPort} within 1 s (1 attempt(s))", final.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        AssertNoSasOnDisk();
    }

    [Fact]
    public async Task RunNew_NothingListening_RetriesThenFailsNamingTheHost()
    {
        int port;
        await using (var closed = new ScriptHttpServer((_, _) => ScriptAnswer.Text("")))
        {
            port = closed.Port;
        }

        var (final, _) = await RunAsync($"http://127.0.0.1:{port}/s.sh" + Sas, Settings(timeout: TimeSpan.FromSeconds(1)));

        Assert.Equal(LocalState.Failed, final.State);
        Assert.StartsWith($"Script download failed: cannot connect to host 127.0.0.1:{port}", final.Message, StringComparison.Ordinal);
        AssertNoSasOnDisk();
    }

    [Fact]
    public void Normalize_LoneCarriageReturnAndNoBom_KeptAsIs()
    {
        Assert.Equal("a\rb\nc"u8.ToArray(), ScriptDownloader.Normalize("a\rb\r\nc"u8));
    }
}
