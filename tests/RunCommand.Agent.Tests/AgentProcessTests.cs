using System.Diagnostics;
using System.Text;
using RunCommand.Agent.Execution;
using RunCommand.Agent.Protocol;
using RunCommand.Agent.State;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>The real agent executable against the Kestrel fake server: kill -9 mid-script, restart, SIGTERM.</summary>
public sealed class AgentProcessTests : IDisposable
{
    private readonly AgentFixture _fixture = new();
    private readonly List<Process> _agents = [];
    private readonly StringBuilder _agentLog = new();

    public void Dispose()
    {
        foreach (var agent in _agents)
        {
            if (!agent.HasExited)
            {
                agent.Kill();
            }

            agent.Dispose();
        }

        _fixture.Dispose();
    }

    /// <summary>
    /// The agent from its own output directory: the copy beside the tests lacks its logging package (the test
    /// project gets that assembly from the ASP.NET shared framework, which the agent does not use).
    /// </summary>
    private static string AgentDll
    {
        get
        {
            var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            var own = Path.Combine(testDir.Parent!.Parent!.FullName, "RunCommand.Agent", testDir.Name, "RunCommand.Agent.dll");
            Assert.True(File.Exists(own), $"agent not built at {own}");
            return own;
        }
    }

    private Process StartAgent(Uri server, string stateDir, string tokenFile)
    {
        var agentDll = AgentDll;
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var arg in new[] { "exec", agentDll, "--server", server.ToString(), "--vm-name", "vm1", "--state-dir", stateDir, "--enroll-token-file", tokenFile })
        {
            psi.ArgumentList.Add(arg);
        }

        var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, e) =>
        {
            lock (_agentLog)
            {
                _agentLog.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _agents.Add(process);
        return process;
    }

    [Fact]
    public async Task AgentProcess_KilledMidScriptAndRestarted_ReportsTrueOutcomeOnceAndExitsZeroOnSigterm()
    {
        await using var server = await KestrelFakeServer.StartAsync();
        var stateDir = Path.Combine(_fixture.Root, "state");
        var tokenFile = Path.Combine(_fixture.Root, "enroll.token");
        await File.WriteAllTextAsync(tokenFile, KestrelFakeServer.EnrollmentToken);
        var counter = Path.Combine(_fixture.Root, "counter");
        var go = Path.Combine(_fixture.Root, "go");
        var assignment = AgentFixture.Assignment(
            $"echo run >> {counter}\necho hello\n{Gate.WaitFor(go, 0.02)}\necho bye\nexit 5\n", "e2e1");

        var first = StartAgent(server.BaseAddress, stateDir, tokenFile);
        await AgentFixture.WaitUntilAsync(() => server.Enrollments.Count == 1, "the agent enrolls");
        server.SetAssignments(assignment);
        await AgentFixture.WaitUntilAsync(() => server.Reports["e2e1"].StdoutText == "hello\n", "the script runs");
        first.Kill(); // SIGKILL, the agent only: the script is in its own session and keeps running.
        await first.WaitForExitAsync();
        await File.WriteAllTextAsync(go, "");
        var execDir = Path.Combine(stateDir, "executions", "e2e1");
        await AgentFixture.WaitUntilAsync(() => File.Exists(Path.Combine(execDir, "exitcode")), "the script ends while the agent is down");

        var second = StartAgent(server.BaseAddress, stateDir, tokenFile);
        var final = await server.Reports["e2e1"].WaitForTerminalAsync();
        server.SetAssignments();
        await AgentFixture.WaitUntilAsync(() => new FileExecutionStateStore(Path.Combine(stateDir, "executions")).Get("e2e1")?.Reported == true, "the report is recorded");
        Assert.Equal(0, Posix.Kill(second.Id, Posix.SigTerm));
        await second.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        string log;
        lock (_agentLog)
        {
            log = _agentLog.ToString();
        }

        Assert.True(LocalState.Failed == final.State, log);
        Assert.Equal(5, final.ExitCode);
        Assert.Equal("hello\nbye\n", server.Reports["e2e1"].StdoutText);
        Assert.Equal(["run"], await File.ReadAllLinesAsync(counter));
        Assert.Single(server.Enrollments);
        Assert.Equal(0, second.ExitCode);
        Assert.DoesNotContain(KestrelFakeServer.IssuedToken, log, StringComparison.Ordinal);
        Assert.DoesNotContain(KestrelFakeServer.EnrollmentToken, log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--vm-name x")]
    [InlineData("--server ftp://host --vm-name x")]
    [InlineData("--server http://127.0.0.1:1 --vm-name x --subscription not-a-guid")]
    [InlineData("--server http://127.0.0.1:1 --vm-name x --tags novalue")]
    [InlineData("--server http://127.0.0.1:1 --vm-name x --bogus")]
    public async Task AgentProcess_BadCommandLine_OneErrorLineExitCode2(string arguments)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(AgentDll);
        foreach (var arg in arguments.Split(' '))
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, process.ExitCode);
        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Empty(await stdout);
    }
}
