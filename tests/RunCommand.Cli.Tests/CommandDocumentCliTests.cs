using Microsoft.AspNetCore.Http;

namespace RunCommand.Cli.Tests;

/// <summary>invoke and the command document verbs, run in-process against a fake server.</summary>
[Collection(nameof(ConfigDirectoryCollection))]
public sealed class CommandDocumentCliTests : InProcessCliTest
{

    [Theory]
    [InlineData("Succeeded", 0, ExitCodes.Success)]
    [InlineData("Failed", 4, ExitCodes.Failure)]
    public async Task Invoke_RunFinishes_PrintsAzureResultAndExitsByScriptOutcome(string state, int exitCode, int expectedExit)
    {
        await using var server = await StartInvokeServerAsync(state, exitCode);
        await LoginAsync(server);

        var (exit, output, _) = await RunAsync(
            "vm", "run-command", "invoke", "-g", "rg1", "-n", "vm1", "--command-id", "RunShellScript", "--scripts", "echo hi", "echo $1", "--parameters", "one", "X=2");

        Assert.Equal(expectedExit, exit);
        Assert.Contains("\"message\": \"Enable succeeded: \\n[stdout]\\nhi\\n\\n[stderr]\\n\"", output, StringComparison.Ordinal);
        var post = server.Requests.Single(r => r.Request.StartsWith("POST ", StringComparison.Ordinal));
        Assert.Contains("/virtualMachines/vm1/runCommand?api-version=", post.Request, StringComparison.Ordinal);
        Assert.Contains("""{"commandId":"RunShellScript","script":["echo hi","echo $1"],"parameters":[{"name":"","value":"one"},{"name":"X","value":"2"}]}""", post.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_LocationWithoutVm_ListsDocumentsOfThatLocation()
    {
        await using var server = await StartInvokeServerAsync("Succeeded", 0);
        await LoginAsync(server);

        var (exit, output, _) = await RunAsync("vm", "run-command", "list", "--location", "westlocal", "-o", "table");

        Assert.Equal(ExitCodes.Success, exit);
        // az's table leaves the id column out; --query picks it when wanted.
        Assert.Contains("OsType", output, StringComparison.Ordinal);
        Assert.Contains("Linux", output, StringComparison.Ordinal);
        Assert.Contains(server.Requests, r => r.Request.Contains("/locations/westlocal/runCommands?api-version=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task List_NeitherVmNorLocation_IsUsageError()
    {
        await using var server = await StartInvokeServerAsync("Succeeded", 0);
        await LoginAsync(server);

        var (exit, _, error) = await RunAsync("vm", "run-command", "list");

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--location", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DocumentCreate_Definitions_PutsTypedParameters()
    {
        await using var server = await StartInvokeServerAsync("Succeeded", 0);
        await LoginAsync(server);
        var scriptFile = Path.Combine(ConfigDirectory, "greet.sh");
        await File.WriteAllTextAsync(scriptFile, "echo hello $who\r\necho $n\n");

        var (exit, _, error) = await RunAsync(
            "vm", "run-command", "document", "create", "--command-id", "greet", "--location", "westlocal", "--script", "@" + scriptFile,
            "--parameter-definitions", "who=world", "n:int:required", "-o", "none");

        Assert.True(exit == ExitCodes.Success, error);
        var put = server.Requests.Single(r => r.Request.StartsWith("PUT ", StringComparison.Ordinal));
        Assert.Contains("/locations/westlocal/runCommands/greet?api-version=", put.Request, StringComparison.Ordinal);
        Assert.Contains("\"script\":[\"echo hello $who\",\"echo $n\"]", put.Body, StringComparison.Ordinal);
        Assert.Contains("""{"name":"n","type":"int","required":true}""", put.Body, StringComparison.Ordinal);
        Assert.Contains("""{"name":"who","type":"string","defaultValue":"world","required":false}""", put.Body, StringComparison.Ordinal);
    }

    /// <summary>Subscriptions, documents (greet absent), and an action run whose operation is InProgress once, then done.</summary>
    private static Task<FakeArmServer> StartInvokeServerAsync(string executionState, int exitCode)
    {
        var operationPolls = 0;
        return FakeArmServer.StartAsync((context, body) =>
        {
            var path = context.Request.Path.Value!;
            if (path == "/subscriptions")
            {
                return FakeArmServer.WriteJsonAsync(context, 200, $$"""{"value":[{"id":"/subscriptions/{{Sub}}","subscriptionId":"{{Sub}}","displayName":"default","location":"westlocal"}]}""");
            }

            if (path.EndsWith("/runCommand", StringComparison.Ordinal))
            {
                var url = $"http://{context.Request.Host}/subscriptions/{Sub}/providers/Microsoft.Compute/locations/westlocal/operations/op1?api-version=2023-07-01";
                context.Response.Headers["Azure-AsyncOperation"] = url;
                context.Response.Headers.Location = url + "&monitor=true";
                context.Response.StatusCode = StatusCodes.Status202Accepted;
                return Task.CompletedTask;
            }

            if (path.Contains("/operations/", StringComparison.Ordinal))
            {
                return Interlocked.Increment(ref operationPolls) == 1
                    ? FakeArmServer.WriteJsonAsync(context, 200, """{"name":"op1","status":"InProgress"}""")
                    : FakeArmServer.WriteJsonAsync(context, 200, $$$$"""
                        {"name":"op1","status":"Succeeded","properties":{"executionState":"{{{{executionState}}}}","exitCode":{{{{exitCode}}}},
                         "output":{"value":[{"code":"ProvisioningState/succeeded","level":"Info","displayStatus":"Provisioning succeeded","message":"Enable succeeded: \n[stdout]\nhi\n\n[stderr]\n"}]}}}
                        """);
            }

            if (path.EndsWith("/runCommands", StringComparison.Ordinal))
            {
                return FakeArmServer.WriteJsonAsync(context, 200, """{"value":[{"id":"RunShellScript","osType":"Linux","label":"Run Linux Shell script"}]}""");
            }

            if (path.EndsWith("/runCommands/greet", StringComparison.Ordinal))
            {
                return context.Request.Method == "PUT"
                    ? FakeArmServer.WriteJsonAsync(context, 201, body)
                    : FakeArmServer.WriteJsonAsync(context, 404, """{"error":{"code":"ResourceNotFound","message":"no greet"}}""");
            }

            return FakeArmServer.WriteJsonAsync(context, 404, """{"error":{"code":"ResourceNotFound","message":"unexpected"}}""");
        });
    }
}
