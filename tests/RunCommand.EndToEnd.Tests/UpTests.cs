using System.Net.Sockets;
using System.Text.RegularExpressions;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>`runcmd up`: a server and a local agent on the defaults, one command away, stopped by Ctrl-C.</summary>
public sealed partial class UpTests
{
    [GeneratedRegex(@"stopping the (server|agent) \(pid (\d+)\)")]
    private static partial Regex StoppingLine();

    [Fact]
    public async Task Up_ThenCreateHello_SucceedsAndCtrlCStopsBoth()
    {
        var dir = Directory.CreateTempSubdirectory("rc-up-").FullName;
        var configDir = Path.Combine(dir, "cli");
        var port = ServerProcess.FreePort();
        await using var up = await StartUpAsync(dir, port, ignoreInterrupt: false);
        Assert.Contains("Press Ctrl-C to stop the agent and the server.", up.Output, StringComparison.Ordinal);

        var cli = new CliRunner(configDir);
        var created = await cli.RunAsync("vm", "run-command", "create", "-g", "default", "--vm-name", "upvm", "-n", "hello", "--script", "echo Hello World!");

        Assert.True(created.ExitCode == 0, created.Stdout + created.Stderr);
        Assert.Contains("\"output\": \"Hello World!\\n\"", created.Stdout, StringComparison.Ordinal);

        // The web portal is served by the same server, from files the build put beside it.
        await Wait.UntilAsync(() => Task.FromResult(up.Output.Contains($"web portal at http://127.0.0.1:{port}/portal/", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "runcmd up to name the web portal");
        using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") })
        {
            var portal = await http.GetStringAsync("/");
            Assert.Contains("<div id=\"root\"></div>", portal, StringComparison.Ordinal);
        }

        up.Interrupt();
        await AssertStoppedAsync(up, port);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Up_OnHttps_AgentTrustsTheServersOwnCertificateAndRunsHello()
    {
        var dir = Directory.CreateTempSubdirectory("rc-up-").FullName;
        var port = ServerProcess.FreePort();
        // up waits for its agent before it prints what to type next: an agent that does not trust the server never comes.
        await using var up = await StartUpAsync(dir, port, ignoreInterrupt: false, scheme: "https");
        Assert.Contains($"server ready at https://127.0.0.1:{port}", up.Output, StringComparison.Ordinal);

        var created = await new CliRunner(Path.Combine(dir, "cli")).RunAsync(
            "vm", "run-command", "create", "-g", "default", "--vm-name", "upvm", "-n", "hello", "--script", "echo Hello World!");

        Assert.True(created.ExitCode == 0, created.Stdout + created.Stderr);
        Assert.Contains("\"output\": \"Hello World!\\n\"", created.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Cannot reach the server", up.Output, StringComparison.Ordinal);
        up.Interrupt();
        await AssertStoppedAsync(up, port);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Up_StartedWithCtrlCIgnored_SaysSoAndNamesTheKillThatStopsIt()
    {
        var dir = Directory.CreateTempSubdirectory("rc-up-").FullName;
        var port = ServerProcess.FreePort();
        // As `./runcmd up &` in a script starts it: SIGINT ignored, which .NET keeps, so Ctrl-C cannot stop it.
        await using var up = await StartUpAsync(dir, port, ignoreInterrupt: true);

        Assert.Contains($"Ctrl-C does not reach this runcmd (it started with SIGINT ignored, as a background job does): stop it with kill {up.Pid}.",
            up.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Press Ctrl-C", up.Output, StringComparison.Ordinal);
        up.Interrupt();
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(up.HasExited, "runcmd up stopped on a SIGINT it said it ignores:\n" + up.Output);
        up.Terminate();
        await AssertStoppedAsync(up, port);
        Directory.Delete(dir, recursive: true);
    }

    private static async Task<ChildProcess> StartUpAsync(string dir, int port, bool ignoreInterrupt, string scheme = "http")
    {
        var environment = new Dictionary<string, string>
        {
            ["RUNCMD_CONFIG_DIR"] = Path.Combine(dir, "cli"),
            ["RUNCMD_SERVER_DLL"] = Repo.ServerDll,
            ["RUNCMD_AGENT_DLL"] = Repo.AgentDll,
        };
        string[] up = ["dotnet", Repo.CliDll, "up", "--data-dir", Path.Combine(dir, "data"), "--urls", $"{scheme}://127.0.0.1:{port}", "--vm-name", "upvm"];
        var process = ignoreInterrupt
            ? ChildProcess.Start("up", "/usr/bin/env", ["--ignore-signal=INT", .. up], environment)
            : ChildProcess.Start("up", up[0], up[1..], environment);
        // The stop hint is the last line it prints once up; the wait stops it and shows its output if it never comes.
        await process.WaitUntilStartedAsync(() => Task.FromResult(
                process.Output.Contains("--vm-name upvm -n hello --script 'echo Hello World!'", StringComparison.Ordinal)
                && (process.Output.Contains("Press Ctrl-C to stop", StringComparison.Ordinal) || process.Output.Contains("stop it with kill", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(90), "runcmd up to print what to type next");
        return process;
    }

    /// <summary>up exits 0 after stopping the agent, then the server, each on SIGTERM alone, and nothing listens on its port.</summary>
    private static async Task AssertStoppedAsync(ChildProcess up, int port)
    {
        Assert.Equal(0, await up.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var stopped = StoppingLine().Matches(up.Output).Select(m => (Role: m.Groups[1].Value, Pid: int.Parse(m.Groups[2].Value))).ToList();
        Assert.Equal(["agent", "server"], stopped.Select(s => s.Role));
        // Both stopped on SIGTERM alone: the 10 s kill is a safety net, not the way they stop.
        Assert.False(up.Output.Contains("did not stop within", StringComparison.Ordinal), "a child needed the kill:\n" + up.Output);
        Assert.All(stopped, s => Assert.False(Processes.IsAlive(s.Pid), $"the {s.Role} (pid {s.Pid}) is still running"));
        using var probe = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => probe.ConnectAsync("127.0.0.1", port));
    }
}
