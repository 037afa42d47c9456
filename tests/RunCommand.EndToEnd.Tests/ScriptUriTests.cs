using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>source.scriptUri through a real server and agent: the download, its failures, and the SAS kept secret.</summary>
public sealed class ScriptUriTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private const string Signature = "E2ESECRETSIGNATURE";
    private const string Sas = "?sv=2024-01-01&sr=b&sp=r&sig=" + Signature;
    private readonly Stack _stack = fixture.Stack;

    private static RunCommandResource FromUri(string scriptUri) => new()
    {
        Location = "local",
        Properties = new RunCommandProperties { Source = new RunCommandSource { ScriptUri = scriptUri } },
    };

    private static string ApiPath(RunCommandRef c) =>
        $"subscriptions/{c.Subscription}/resourceGroups/{c.ResourceGroup}/providers/Microsoft.Compute/virtualMachines/{c.VmName}/runCommands/{c.Name}";

    [Fact]
    public async Task Run_ScriptUriWithSas_AgentDownloadsWithSasAndApiNeverShowsIt()
    {
        var agent = await _stack.StartAgentAsync("scripturi");
        await using var http = new ScriptHttpServer((_, _) => ScriptAnswer.Text("#!/bin/bash\r\necho \"from uri $((6*7))\"\r\n"));
        var target = _stack.Command("scripturi", "fromuri");

        var result = await _stack.RunAsync(target, FromUri(http.Url("/container/s.sh" + Sas)));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        Assert.Equal("from uri 42\n", view.Output);
        Assert.Equal("/container/s.sh" + Sas, Assert.Single(http.Requests));
        Assert.Equal(http.Url("/container/s.sh"), result.Properties.Source!.ScriptUri);
        using var api = _stack.Server.CreateHttpClient();
        foreach (var path in new[] { ApiPath(target), ApiPath(target) + "?$expand=instanceView", ApiPath(target)[..ApiPath(target).LastIndexOf('/')] })
        {
            var body = await api.GetStringAsync(path + (path.Contains('?') ? "&" : "?") + "api-version=2024-07-01");
            Assert.Contains("/container/s.sh", body, StringComparison.Ordinal);
            Assert.DoesNotContain(Signature, body, StringComparison.Ordinal);
        }

        // Sealed at rest on the server, and never on the agent's disk or in its log.
        foreach (var file in Directory.EnumerateFiles(_stack.Server.DataDir, "*", SearchOption.AllDirectories)
                     .Concat(Directory.EnumerateFiles(agent.StateDir, "*", SearchOption.AllDirectories)))
        {
            Assert.DoesNotContain(Signature, await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(Signature, agent.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Signature, _stack.Server.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ScriptUriAnswering503_ShowsTheFailedAttemptWhileTheNextOneRuns()
    {
        await _stack.StartAgentAsync("scripturi503");
        // The first attempt fails; the second hangs, so the note of the first stays until the test has seen it.
        await using var http = new ScriptHttpServer((_, n) => n == 1 ? ScriptAnswer.Text("busy", 503) : new ScriptAnswer(200, [], Hang: true));
        var target = _stack.Command("scripturi503", "busy");
        await _stack.StartAsync(target, FromUri(http.Url("/s.sh" + Sas)));

        var view = await _stack.WaitForStateAsync(target, v => v.ExecutionMessage?.Contains("attempt 1 of", StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(30), "the failed attempt to be shown");

        Assert.Equal(ExecutionStates.Pending, view.ExecutionState);
        Assert.StartsWith($"Script download: attempt 1 of 8 failed: HTTP 503 from host {http.HostAndPort}; retrying in ", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(Signature, view.ExecutionMessage, StringComparison.Ordinal);
        var deleted = await _stack.Client.DeleteAsync(target);
        Assert.Equal(OperationStatus.Succeeded, (await _stack.Client.WaitForOperationAsync(deleted!)).Status);
    }

    [Fact]
    public async Task Create_UnresolvableScriptUri_CliShowsFailedAttemptsThenTheCause()
    {
        await _stack.StartAgentAsync("scriptnx");
        var cli = new CliRunner(Path.Combine(_stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(_stack.Server);

        var result = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "scriptnx", "-n", "nx",
            "--script-uri", "https://nonexistent.invalid/x.sh");

        Assert.Equal(1, result.ExitCode);
        // Each attempt's note is shown on stderr as it happens ("[0s] Pending: Script download: attempt 1 of 3 failed: ...").
        var attempts = result.Stderr.Split('\n').Where(l => l.Contains("Pending: Script download: attempt ", StringComparison.Ordinal)).ToList();
        Assert.True(attempts.Count > 0, result.Stderr);
        Assert.All(attempts, l => Assert.Matches(@"^\[\d+s\] Pending: Script download: attempt [12] of 3 failed: cannot resolve host nonexistent\.invalid: the name does not exist; retrying in [\d.]+ s$", l));
        Assert.Contains("\"executionMessage\": \"Script download failed: cannot resolve host nonexistent.invalid: the name does not exist (gave up after 3 attempts)\"",
            result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ScriptUriNotFound_FailedNamingStatusAndHost()
    {
        await _stack.StartAgentAsync("scripturi404");
        await using var http = new ScriptHttpServer((_, _) => ScriptAnswer.Text("gone", 404));

        var result = await _stack.RunAsync(_stack.Command("scripturi404", "missing"), FromUri(http.Url("/missing.sh" + Sas)));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Equal($"Script download failed: HTTP 404 from host {http.HostAndPort}", view.ExecutionMessage);
        Assert.Null(view.ExitCode);
        // A run that fails before its script starts starts and ends at the agent's same moment, never "ends before it starts".
        Assert.NotNull(view.StartTime);
        Assert.Equal(view.StartTime, view.EndTime);
    }
}
