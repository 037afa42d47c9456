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
