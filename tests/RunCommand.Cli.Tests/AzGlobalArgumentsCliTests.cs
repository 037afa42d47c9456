using System.Text.Json;

namespace RunCommand.Cli.Tests;

/// <summary>
/// az's global arguments on every verb (<c>-o</c> in any case, <c>--query</c> and its None result), <c>--ids</c> in any
/// case, '@FILE' parameters, secrets kept out of errors and the examples of <c>--help</c>, in-process against a fake server.
/// </summary>
[Collection(nameof(ConfigDirectoryCollection))]
public sealed class AzGlobalArgumentsCliTests : InProcessCliTest
{
    private const string HelloId = $"/subscriptions/{Sub}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/hello";

    private static readonly string[] Hello = ["-g", "rg1", "--vm-name", "vm1", "-n", "hello"];

    [Fact]
    public async Task Delete_OutputNone_IsAcceptedAndPrintsNothing()
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync(["vm", "run-command", "delete", .. Hello, "--yes", "-o", "none"]);

        Assert.True(exitCode == 0, error);
        Assert.Equal("", output);
        Assert.Contains(server.Requests, r => r.Request.StartsWith($"DELETE {HelloId}?", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("instanceview")]
    [InlineData("InstanceView")]
    public async Task Show_ExpandInAnyCase_AsksForTheInstanceView(string expand)
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);

        var (exitCode, _, error) = await RunAsync(["vm", "run-command", "show", .. Hello, "--expand", expand]);

        Assert.True(exitCode == 0, error);
        Assert.Contains(server.Requests, r => r.Request.StartsWith($"GET {HelloId}?", StringComparison.Ordinal) && r.Request.EndsWith("$expand=instanceView", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Show_ExpandOfSomethingElse_IsRefusedInOneLine()
    {
        var (exitCode, _, error) = await RunAsync(["vm", "run-command", "show", .. Hello, "--expand", "userData"]);

        Assert.Equal(2, exitCode);
        Assert.Contains("'userData'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wait_OutputJson_IsAcceptedAndPrintsNothing()
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync(["vm", "run-command", "wait", .. Hello, "--exists", "-o", "json"]);

        Assert.True(exitCode == 0, error);
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData("delete", "--yes")]
    [InlineData("wait", "--exists")]
    [InlineData("logs", "--follow")]
    public async Task VerbWithoutJsonResult_Query_IsRefusedInOneLineWhileOutputIsAccepted(string verb, string flag)
    {
        var (exitCode, output, error) = await RunAsync(["vm", "run-command", verb, .. Hello, flag, "-o", "none", "--query", "id"]);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Equal("", output);
        Assert.Equal($"ERROR: --query does not apply to 'vm run-command {verb}': it prints no JSON result to query", error.TrimEnd());
    }

    [Theory]
    [InlineData("JSON", "\"hello\"\n")]
    [InlineData("Tsv", "hello\n")]
    [InlineData("Table", "Result\n--------\nhello\n")]
    public async Task Output_InAnyCase_IsAzsLowercaseFormat(string format, string expected)
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync(["vm", "run-command", "show", .. Hello, "--query", "name", "-o", format]);

        Assert.True(exitCode == 0, error);
        Assert.Equal(expected, output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Output_UnknownFormat_IsOneLineUsageErrorListingTheChoices()
    {
        var (exitCode, _, error) = await RunAsync(["vm", "run-command", "show", .. Hello, "-o", "xml"]);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.StartsWith("ERROR: argument --output/-o: invalid choice: 'xml' (choose from 'json', 'jsonc', 'yaml',", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("json")]
    [InlineData("tsv")]
    [InlineData("table")]
    [InlineData("yaml")]
    public async Task Show_QueryWithNullResult_PrintsNothing(string format)
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync(["vm", "run-command", "show", .. Hello, "--query", "nonexistent", "-o", format]);

        Assert.True(exitCode == 0, error);
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData("runcommands")]
    [InlineData("RUNCOMMANDS")]
    public async Task Show_IdsWithRunCommandsInAnotherCase_AddressesTheRunCommand(string segment)
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync(
            "vm", "run-command", "show", "--ids", HelloId.Replace("/runCommands/", $"/{segment}/", StringComparison.Ordinal), "--query", "name", "-o", "tsv");

        Assert.True(exitCode == 0, error);
        Assert.Equal("hello\n", output.ReplaceLineEndings("\n"));
        Assert.Contains(server.Requests, r => r.Request.StartsWith($"GET {HelloId}?", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FleetShow_QueryWithoutOutput_IsAppliedToTheJsonResult()
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync("fleet", "run-command", "show", "-g", "rg1", "-n", "run1", "--query", "provisioningState");

        Assert.True(exitCode == 0, error);
        Assert.Equal("\"Succeeded\"\n", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task FleetShow_QueryWithOutputText_IsRefusedInOneLine()
    {
        var (exitCode, output, error) = await RunAsync("fleet", "run-command", "show", "-g", "rg1", "-n", "run1", "-o", "TEXT", "--query", "name");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Equal("", output);
        Assert.StartsWith("ERROR: --query needs a JSON result, and -o text prints each machine's output", error);
    }

    [Fact]
    public async Task Create_ProtectedParametersFromFile_SendsTheFilesItem()
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);
        var secretFile = Path.Combine(ConfigDirectory, "token.txt");
        await File.WriteAllTextAsync(secretFile, "TOKEN=s3cret\n");

        var (exitCode, _, error) = await RunAsync(
            ["vm", "run-command", "create", .. Hello, "--script", "true", "--parameters", "=@x", "--protected-parameters", "@" + secretFile, "-o", "none"]);

        Assert.True(exitCode == 0, error);
        var put = Assert.Single(server.Requests, r => r.Request.StartsWith("PUT ", StringComparison.Ordinal));
        var properties = JsonDocument.Parse(put.Body).RootElement.GetProperty("properties");
        Assert.Equal("""[{"name":"TOKEN","value":"s3cret"}]""", properties.GetProperty("protectedParameters").GetRawText());
        Assert.Equal("""[{"name":"","value":"@x"}]""", properties.GetProperty("parameters").GetRawText());
    }

    [Fact]
    public async Task Create_RunAsPasswordFileMissing_DoesNotEchoWhatFollowsTheAt()
    {
        await using var server = await StartServerAsync();
        await LoginAsync(server);

        var (exitCode, _, error) = await RunAsync(
            ["vm", "run-command", "create", .. Hello, "--script", "true", "--run-as-user", "u", "--run-as-password", "@Pa55word"]);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.StartsWith("ERROR: --run-as-password: the file given after '@' does not exist", error);
        Assert.DoesNotContain("Pa55word", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vm list")]
    [InlineData("vm run-command create")]
    [InlineData("vm run-command update")]
    [InlineData("vm run-command show")]
    [InlineData("vm run-command list")]
    [InlineData("vm run-command delete")]
    [InlineData("vm run-command wait")]
    [InlineData("vm run-command logs")]
    [InlineData("vm run-command invoke")]
    [InlineData("fleet run-command create")]
    [InlineData("fleet run-command show")]
    public async Task Help_MainVerbs_EndWithExamplesOfThatVerb(string verb)
    {
        var (exitCode, output, _) = await RunAsync([.. verb.Split(' '), "--help"]);

        Assert.Equal(0, exitCode);
        var examples = output[output.IndexOf("\nExamples:\n", StringComparison.Ordinal)..];
        Assert.Contains($"\n        runcmd {verb} ", examples, StringComparison.Ordinal);
        Assert.True(output.IndexOf("Options:", StringComparison.Ordinal) < output.IndexOf("Examples:", StringComparison.Ordinal));
    }

    private static Task<FakeArmServer> StartServerAsync() => FakeArmServer.StartAsync((context, _) =>
    {
        var path = context.Request.Path.Value!;
        if (path == "/subscriptions")
        {
            return FakeArmServer.WriteJsonAsync(context, 200, $$"""{"value":[{"id":"/subscriptions/{{Sub}}","subscriptionId":"{{Sub}}","displayName":"default","location":"local"}]}""");
        }

        if (path.EndsWith("/virtualMachines/vm1", StringComparison.Ordinal))
        {
            return FakeArmServer.WriteJsonAsync(context, 200, """{"id":"/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1","name":"vm1","location":"local","properties":{"vmId":"v","agentInstanceView":{"status":"Connected"}}}""");
        }

        if (path.Contains("/RunCommand.Fleet/runs/", StringComparison.Ordinal))
        {
            return FakeArmServer.WriteJsonAsync(context, 200, """{"name":"run1","properties":{"provisioningState":"Succeeded","instanceView":{"targets":[],"counts":{}}}}""");
        }

        if (context.Request.Method == "DELETE")
        {
            context.Response.StatusCode = 200;
            return Task.CompletedTask;
        }

        // PUT, GET: the run command, succeeded (a PUT without an operation to poll is then read back).
        return FakeArmServer.WriteJsonAsync(context, 200,
            $$"""{"id":"{{HelloId}}","name":"hello","properties":{"provisioningState":"Succeeded","instanceView":{"executionState":"Succeeded","exitCode":0""" + "}}}");
    });
}
