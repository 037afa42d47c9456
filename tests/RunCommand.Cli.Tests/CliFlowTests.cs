using Microsoft.AspNetCore.Http;
using RunCommand.Client;

namespace RunCommand.Cli.Tests;

[CollectionDefinition(nameof(ConfigDirectoryCollection), DisableParallelization = true)]
public sealed class ConfigDirectoryCollection;

/// <summary>Whole verbs, parsed and run in-process against a fake server; they share RUNCMD_CONFIG_DIR, so not in parallel.</summary>
[Collection(nameof(ConfigDirectoryCollection))]
public sealed class CliFlowTests : InProcessCliTest
{

    [Fact]
    public async Task Create_NotLoggedIn_SaysHowToLogIn()
    {
        var (exitCode, _, error) = await RunAsync("vm", "run-command", "create", "-g", "rg", "--vm-name", "vm1", "-n", "x", "--script", "true");

        Assert.Equal(ExitCodes.Failure, exitCode);
        Assert.StartsWith("ERROR: not logged in: run ./runcmd login", error);
    }

    [Fact]
    public async Task Create_MissingName_IsUsageErrorWithExit2()
    {
        var (exitCode, _, error) = await RunAsync("vm", "run-command", "create", "-g", "rg", "--vm-name", "vm1", "--script", "true");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Equal("ERROR: Option '--name' is required. (see ./runcmd vm run-command create --help)", error.TrimEnd());
    }

    [Fact]
    public async Task Create_ScriptSucceeds_WaitsForOperationAndPrintsAzTable()
    {
        await using var server = await StartRunCommandServerAsync("Succeeded", 0);
        await LoginAsync(server);

        var (exitCode, output, _) = await RunAsync(
            "vm", "run-command", "create", "-g", "rg1", "--vm-name", "vm1", "-n", "hello", "--script", "echo Hello World!",
            "--parameters", "a=b=c", "bare", "=x=y", "--async-execution", "false", "-o", "table");

        Assert.Equal(ExitCodes.Success, exitCode);
        var lines = output.Split('\n');
        Assert.Contains("ProvisioningState", lines[0], StringComparison.Ordinal);
        Assert.Contains("hello", lines[2], StringComparison.Ordinal);
        Assert.Contains("Succeeded", lines[2], StringComparison.Ordinal);
        var put = server.Requests.Single(r => r.Request.StartsWith("PUT ", StringComparison.Ordinal));
        Assert.Contains("\"location\":\"westlocal\"", put.Body);
        Assert.Contains("""[{"name":"a","value":"b=c"},{"name":"","value":"bare"},{"name":"","value":"x=y"}]""", put.Body);
        Assert.Contains("\"asyncExecution\":false", put.Body);
        Assert.Contains(server.Requests, r => r.Request.Contains("/operations/op1?api-version=2023-07-01&waitSeconds=5", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_QueryAndTsv_PrintsJustTheQueriedValueAsAz()
    {
        await using var server = await StartRunCommandServerAsync("Succeeded", 0);
        await LoginAsync(server);

        var (exitCode, output, _) = await RunAsync(
            "vm", "run-command", "create", "-g", "rg1", "--vm-name", "vm1", "-n", "hello", "--script", "echo Hello World!",
            "--query", "{state:instanceView.executionState, code:instanceView.exitCode, out:instanceView.output}", "-o", "tsv");

        Assert.Equal(ExitCodes.Success, exitCode);
        Assert.Equal("Succeeded\t0\tHello World!\n\n", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Show_BadQuery_IsUsageErrorBeforeAnyRequest()
    {
        await using var server = await StartRunCommandServerAsync("Succeeded", 0);
        await LoginAsync(server);
        var before = server.Requests.Count;

        var (exitCode, _, error) = await RunAsync("vm", "run-command", "show", "-g", "rg1", "--vm-name", "vm1", "-n", "hello", "--query", "[?");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.StartsWith("ERROR: argument --query: invalid jmespath_type value: '[?'", error);
        Assert.Equal(before, server.Requests.Count);
    }

    [Fact]
    public async Task Create_ScriptFails_PrintsResourceThenExits1()
    {
        await using var server = await StartRunCommandServerAsync("Failed", 3);
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync(
            "vm", "run-command", "create", "-g", "rg1", "--vm-name", "vm1", "-n", "hello", "--script", "exit 3");

        Assert.Equal(ExitCodes.Failure, exitCode);
        Assert.Contains("\"executionState\": \"Failed\"", output);
        Assert.Equal("ERROR: the script ended Failed with exit code 3", error.TrimEnd());
    }

    [Fact]
    public async Task Create_RunAsPasswordFromFile_SendsFileContentWithoutNewline()
    {
        await using var server = await StartRunCommandServerAsync("Succeeded", 0);
        await LoginAsync(server);
        var passwordFile = Path.Combine(ConfigDirectory, "pw");
        await File.WriteAllTextAsync(passwordFile, "s3cret=x\n");

        var (exitCode, output, _) = await RunAsync(
            "vm", "run-command", "create", "-g", "rg1", "--vm-name", "vm1", "-n", "hello", "--script", "id",
            "--run-as-user", "alice", "--run-as-password", "@" + passwordFile, "--no-wait", "-o", "none");

        Assert.Equal(ExitCodes.Success, exitCode);
        Assert.Equal("", output);
        Assert.Contains("\"runAsPassword\":\"s3cret=x\"", server.Requests.Single(r => r.Request.StartsWith("PUT ", StringComparison.Ordinal)).Body);
        Assert.DoesNotContain(server.Requests, r => r.Request.Contains("/operations/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Update_NoProperties_IsUsageError()
    {
        await using var server = await StartRunCommandServerAsync("Succeeded", 0);
        await LoginAsync(server);

        var (exitCode, _, error) = await RunAsync("vm", "run-command", "update", "-g", "rg1", "--vm-name", "vm1", "-n", "hello");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.StartsWith("ERROR: nothing to update", error);
    }

    [Fact]
    public async Task Show_ServerSays404_PrintsArmErrorAndExits3()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) => context.Request.Path == "/subscriptions"
            ? FakeArmServer.WriteJsonAsync(context, 200, $$"""{"value":[{"subscriptionId":"{{Sub}}"}]}""")
            : FakeArmServer.WriteJsonAsync(context, 404, """{"error":{"code":"ResourceNotFound","message":"Not there.","target":"name"}}"""));
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync("vm", "run-command", "show", "-g", "rg1", "--vm-name", "vm1", "-n", "nope");

        Assert.Equal(ExitCodes.NotFound, exitCode);
        Assert.Equal("", output);
        Assert.Equal("ERROR: (ResourceNotFound) Not there. Target: name", error.TrimEnd());
    }

    [Fact]
    public async Task Login_TokenWorks_SavesConfigWithDefaultSubscription()
    {
        await using var server = await StartRunCommandServerAsync("Succeeded", 0);

        await LoginAsync(server);

        var saved = File.ReadAllText(Path.Combine(ConfigDirectory, "config.json"));
        Assert.Contains($"\"defaultSubscription\": \"{Sub}\"", saved);
        Assert.Contains("\"token\": \"tok\"", saved);
    }

    /// <summary>Subscriptions, a VM in location "westlocal", and one run command whose operation is InProgress once, then Succeeded.</summary>
    private static Task<FakeArmServer> StartRunCommandServerAsync(string executionState, int exitCode)
    {
        var operationPolls = 0;
        return FakeArmServer.StartAsync((context, _) =>
        {
            var path = context.Request.Path.Value!;
            if (path == "/subscriptions")
            {
                return FakeArmServer.WriteJsonAsync(context, 200, $$"""{"value":[{"id":"/subscriptions/{{Sub}}","subscriptionId":"{{Sub}}","displayName":"default","location":"local"}]}""");
            }

            if (path.EndsWith("/virtualMachines/vm1", StringComparison.Ordinal))
            {
                return FakeArmServer.WriteJsonAsync(context, 200, """{"id":"/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1","name":"vm1","location":"westlocal","properties":{"vmId":"v","agentInstanceView":{"status":"Connected"}}}""");
            }

            if (path.Contains("/operations/", StringComparison.Ordinal))
            {
                var status = Interlocked.Increment(ref operationPolls) == 1 ? "InProgress" : "Succeeded";
                return FakeArmServer.WriteJsonAsync(context, 200, $$"""{"name":"op1","status":"{{status}}"}""");
            }

            if (context.Request.Method == "PUT")
            {
                context.Response.Headers["Azure-AsyncOperation"] = $"http://{context.Request.Host}/subscriptions/{Sub}/providers/Microsoft.Compute/locations/westlocal/operations/op1?api-version=2023-07-01";
                return FakeArmServer.WriteJsonAsync(context, 201, """{"name":"hello","properties":{"provisioningState":"Creating"}}""");
            }

            return FakeArmServer.WriteJsonAsync(context, 200,
                "{\"name\":\"hello\",\"properties\":{\"provisioningState\":\"Succeeded\",\"instanceView\":{"
                + $"\"executionState\":\"{executionState}\",\"exitCode\":{exitCode},\"output\":\"Hello World!\\n\"" + "}}}");
        });
    }
}
