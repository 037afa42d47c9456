using System.Text.Json;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>The runcmd CLI, as a user types it, against a real server and agent.</summary>
public sealed class CliTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    private async Task<CliRunner> LoggedInAsync()
    {
        var cli = new CliRunner(Path.Combine(_stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(_stack.Server);
        return cli;
    }

    private static void AssertNoStackTrace(CliRunner.Result result) =>
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);

    [Fact]
    public async Task CreateListShowDelete_HelloWorld_BehavesLikeAz()
    {
        await _stack.StartAgentAsync("clivm");
        var cli = await LoggedInAsync();

        var created = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "clivm", "-n", "hello", "--script", "echo Hello World!");

        Assert.True(created.ExitCode == 0, created.Stdout + created.Stderr);
        using (var json = JsonDocument.Parse(created.Stdout))
        {
            // az's shape: the properties are flattened to the top, as `az vm run-command create` prints them.
            Assert.Equal("Succeeded", json.RootElement.GetProperty("provisioningState").GetString());
            Assert.Equal("e2e", json.RootElement.GetProperty("resourceGroup").GetString());
            var view = json.RootElement.GetProperty("instanceView");
            Assert.Equal("Succeeded", view.GetProperty("executionState").GetString());
            Assert.Equal(0, view.GetProperty("exitCode").GetInt32());
            Assert.Equal("Hello World!\n", view.GetProperty("output").GetString());
        }

        var list = await cli.RunAsync("vm", "run-command", "list", "-g", "e2e", "--vm-name", "clivm", "-o", "table");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("hello", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("Succeeded", list.Stdout, StringComparison.Ordinal);

        var shown = await cli.RunAsync("vm", "run-command", "show", "-g", "e2e", "--vm-name", "clivm", "-n", "hello", "--instance-view");
        Assert.Equal(0, shown.ExitCode);
        Assert.Contains("\"executionState\": \"Succeeded\"", shown.Stdout, StringComparison.Ordinal);

        var deleted = await cli.RunAsync("vm", "run-command", "delete", "-g", "e2e", "--vm-name", "clivm", "-n", "hello", "--yes");
        Assert.True(deleted.ExitCode == 0, deleted.Stdout + deleted.Stderr);

        var gone = await cli.RunAsync("vm", "run-command", "show", "-g", "e2e", "--vm-name", "clivm", "-n", "hello");
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("ResourceNotFound", gone.Stderr, StringComparison.Ordinal);
        Assert.Single(gone.Stderr.Trim().Split('\n'));
        AssertNoStackTrace(gone);
    }

    [Fact]
    public async Task Create_FailingScript_ExitsNonZeroAndShowsTheExitCode()
    {
        await _stack.StartAgentAsync("clifail");
        var cli = await LoggedInAsync();

        var result = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "clifail", "-n", "bad", "--script", "exit 3");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("\"exitCode\": 3", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"executionState\": \"Failed\"", result.Stdout, StringComparison.Ordinal);
        AssertNoStackTrace(result);
    }

    [Fact]
    public async Task Create_ParametersAndTimeout_ReachTheScript()
    {
        await _stack.StartAgentAsync("cliparams");
        var cli = await LoggedInAsync();

        var result = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "cliparams", "-n", "p",
            "--script", "echo \"$GREETING $1 $2\"; echo \"secret=${#SECRET}\"", "--parameters", "GREETING=hi there", "first", "$(second)",
            "--protected-parameters", "SECRET=abc123", "--timeout-in-seconds", "30");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("hi there first $(second)\\nsecret=6\\n", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("abc123", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogsFollow_RunningScript_StreamsEveryLineAndEndsWithTheScript()
    {
        await _stack.StartAgentAsync("clilogs");
        var cli = await LoggedInAsync();
        var started = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "clilogs", "-n", "count", "--no-wait",
            "--script", "for i in 1 2 3 4 5; do echo line $i; sleep 0.4; done; echo oops >&2");
        Assert.True(started.ExitCode == 0, started.Stdout + started.Stderr);

        var followed = await cli.RunAsync("vm", "run-command", "logs", "-g", "e2e", "--vm-name", "clilogs", "-n", "count", "--follow");

        Assert.Equal(0, followed.ExitCode);
        Assert.Equal("line 1\nline 2\nline 3\nline 4\nline 5\n", followed.Stdout);
        Assert.Contains("oops", followed.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_RunShellScript_PrintsAzureStyleResult()
    {
        await _stack.StartAgentAsync("cliinvoke");
        var cli = await LoggedInAsync();

        var result = await cli.RunAsync("vm", "run-command", "invoke", "-g", "e2e", "-n", "cliinvoke", "--command-id", "RunShellScript",
            "--scripts", "echo hello $1", "--parameters", "world");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        var status = json.RootElement.GetProperty("value")[0];
        Assert.Equal("ProvisioningState/succeeded", status.GetProperty("code").GetString());
        Assert.Equal("Enable succeeded: \n[stdout]\nhello world\n\n[stderr]\n", status.GetProperty("message").GetString());
    }

    [Fact]
    public async Task VmList_Table_ShowsTheAgentConnected()
    {
        await _stack.StartAgentAsync("clilist");
        var cli = await LoggedInAsync();

        var result = await cli.RunAsync("vm", "list", "-g", "e2e", "-o", "table");

        Assert.Equal(0, result.ExitCode);
        var row = result.Stdout.Split('\n').Single(l => l.StartsWith("clilist ", StringComparison.Ordinal));
        Assert.Contains("Connected", row, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_UnknownVm_OneClearErrorLine()
    {
        var cli = await LoggedInAsync();

        var result = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "nowhere", "-n", "x", "--script", "true");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Single(result.Stderr.Trim().Split('\n'));
        Assert.Contains("nowhere", result.Stderr, StringComparison.Ordinal);
        AssertNoStackTrace(result);
    }
}
