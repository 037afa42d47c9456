using Microsoft.AspNetCore.Http;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Tests;

/// <summary>The az habits of issue 13, verb by verb, in-process against a fake server.</summary>
[Collection(nameof(ConfigDirectoryCollection))]
public sealed class AzFidelityCliTests : InProcessCliTest
{
    private const string HelloId = $"/subscriptions/{Sub}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/hello";

    [Fact]
    public async Task Misspelled_Verb_SaysUnknownCommandSuggestsNearestAndPrintsHelp()
    {
        var (exitCode, output, error) = await RunAsync("vm", "run-command", "creat", "-g", "rg");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Equal("", output);
        Assert.StartsWith("ERROR: unknown command 'creat' in 'runcmd vm run-command'. Did you mean 'runcmd vm run-command create'?", error);
        Assert.Contains("Usage:", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command was not provided", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Misspelled_Group_BeforeAVerbOfItsParent_SuggestsTheGroup()
    {
        var (exitCode, _, error) = await RunAsync("vm", "run-comand", "list", "-g", "rg");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.StartsWith("ERROR: unknown command 'run-comand' in 'runcmd vm'. Did you mean 'runcmd vm run-command'?", error);
        Assert.Contains("Usage:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bare_Runcmd_SaysUnknownCommandAndPrintsHelp()
    {
        var (exitCode, _, error) = await RunAsync();

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.StartsWith("ERROR: unknown command: 'runcmd' needs a command, one of: login, vm,", error);
        Assert.Contains("Usage:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timeout_NotANumber_SaysWholeNumberWithoutDotNetTypeNames()
    {
        var (exitCode, _, error) = await RunAsync("vm", "run-command", "create", "-g", "rg", "--vm-name", "vm1", "-n", "x", "--script", "true", "--timeout-in-seconds", "abc");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("'abc'", error, StringComparison.Ordinal);
        Assert.Contains("as a whole number", error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Name_WithSlash_IsRefusedAsTypedNotEscaped()
    {
        var (exitCode, _, error) = await RunAsync("vm", "run-command", "show", "-g", "rg", "--vm-name", "vm1", "-n", "a/b");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("--name 'a/b' is not a valid name", error, StringComparison.Ordinal);
        Assert.DoesNotContain("%2F", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProtectedParametersHelp_DescribesThemWithoutLikeParameters()
    {
        var (_, output, _) = await RunAsync("vm", "run-command", "create", "--help");

        Assert.DoesNotContain("Like --parameters", output, StringComparison.Ordinal);
        Assert.Contains("never put on the script's command line", output, StringComparison.Ordinal);
        Assert.Contains("'@FILE' reads one item", output, StringComparison.Ordinal);
        Assert.Contains("does not run again", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_Ids_AddressesEachRunCommandByIdAndPrintsAList()
    {
        await using var server = await StartServerAsync(new Script());
        await LoginAsync(server);
        var otherId = HelloId.Replace("/hello", "/other", StringComparison.Ordinal);

        var (exitCode, output, error) = await RunAsync("vm", "run-command", "show", "--ids", HelloId, otherId, "--query", "length(@)");

        Assert.True(exitCode == 0, error);
        Assert.Equal("2\n", output.ReplaceLineEndings("\n"));
        Assert.Contains(server.Requests, r => r.Request.StartsWith($"GET {HelloId}?", StringComparison.Ordinal));
        Assert.Contains(server.Requests, r => r.Request.StartsWith($"GET {otherId}?", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Delete_IdsWithName_IsUsageError()
    {
        var (exitCode, _, error) = await RunAsync("vm", "run-command", "delete", "--ids", HelloId, "-n", "hello", "--yes");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("--ids cannot be used with --name", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_Ids_DeletesThatRunCommand()
    {
        await using var server = await StartServerAsync(new Script());
        await LoginAsync(server);

        var (exitCode, _, error) = await RunAsync("vm", "run-command", "delete", "--ids", HelloId, "--yes");

        Assert.True(exitCode == 0, error);
        Assert.Contains(server.Requests, r => r.Request.StartsWith($"DELETE {HelloId}?", StringComparison.Ordinal));
    }

    [Fact]
    public async Task List_Ids_ListsTheVmsRunCommands()
    {
        await using var server = await StartServerAsync(new Script());
        await LoginAsync(server);
        var vmId = HelloId[..HelloId.IndexOf("/runCommands", StringComparison.Ordinal)];

        var (exitCode, _, error) = await RunAsync("vm", "run-command", "list", "--ids", vmId);

        Assert.True(exitCode == 0, error);
        Assert.Contains(server.Requests, r => r.Request.StartsWith($"GET {vmId}/runCommands?", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_WhileWaiting_ShowsEachStateChangeWithElapsedTimeOnStderrEvenAsTable()
    {
        var script = new Script
        {
            States =
            [
                ("Pending", "Waiting for the agent of VM 'vm1': it is disconnected (last contact 2026-11-30 07:00:00Z). The command runs when it returns."),
                ("Pending", "Waiting for the agent of VM 'vm1': it is disconnected (last contact 2026-11-30 07:00:00Z). The command runs when it returns."),
                ("Running", ""),
                ("Succeeded", ""),
            ],
        };
        await using var server = await StartServerAsync(script);
        await LoginAsync(server);

        var (exitCode, output, error) = await RunAsync("vm", "run-command", "create", "-g", "rg1", "--vm-name", "vm1", "-n", "hello", "--script", "true", "-o", "table");

        Assert.True(exitCode == 0, error);
        var lines = error.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^\[\d+s\] Pending: Waiting for the agent of VM 'vm1': it is disconnected", lines[0]);
        Assert.Matches(@"^\[\d+s\] Running$", lines[1]);
        Assert.Equal(2, lines.Count(l => l.Contains("Pending", StringComparison.Ordinal) || l.Contains("Running", StringComparison.Ordinal)));
        Assert.Contains("ProvisioningState", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vm", "--vm-name", "vm1", "runcmd vm run-command show -g rg1 --vm-name vm1 -n hello --instance-view")]
    [InlineData("vmss", "--vmss-name", "ss1", "runcmd vmss run-command show -g rg1 --vmss-name ss1 --instance-id 0 -n hello --instance-view")]
    public async Task Create_InterruptedWhileWaiting_SaysTheRunGoesOnAndHowToSeeIt(string group, string machineOption, string machine, string showLine)
    {
        using var interrupt = new CancellationTokenSource();
        await using var server = await StartServerAsync(new Script { States = [.. Enumerable.Repeat(("Running", ""), 100)], InterruptOnOperationPoll = interrupt });
        await LoginAsync(server);
        string[] instance = group == "vmss" ? ["--instance-id", "0"] : [];

        var (exitCode, _, error) = await RunAsync(
            interrupt.Token, [group, "run-command", "create", "-g", "rg1", machineOption, machine, .. instance, "-n", "hello", "--script", "sleep 600", "--location", "local"]);

        Assert.Equal(130, exitCode);
        Assert.Contains("ERROR: stopped waiting; run command 'hello' goes on on the machine.", error, StringComparison.Ordinal);
        Assert.Contains(showLine, error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_Unchanged_SaysItDidNotRunAgainAndHowToRerun()
    {
        await using var server = await StartServerAsync(new Script { Unchanged = true });
        await LoginAsync(server);

        var (exitCode, _, error) = await RunAsync("vm", "run-command", "create", "-g", "rg1", "--vm-name", "vm1", "-n", "hello", "--script", "true");

        Assert.True(exitCode == 0, error);
        Assert.Contains("Unchanged: run command 'hello'", error, StringComparison.Ordinal);
        Assert.Contains("did not run again", error, StringComparison.Ordinal);
        Assert.Contains("vm run-command delete", error, StringComparison.Ordinal);
    }

    /// <summary>What the fake server answers: the instance view states of successive GETs, and whether a PUT is unchanged.</summary>
    private sealed class Script
    {
        public (string State, string Message)[] States { get; init; } = [("Succeeded", "")];

        public bool Unchanged { get; init; }

        /// <summary>Cancelled (Ctrl-C) when the CLI first polls the operation.</summary>
        public CancellationTokenSource? InterruptOnOperationPoll { get; init; }

        public int Gets;
    }

    private static Task<FakeArmServer> StartServerAsync(Script script) => FakeArmServer.StartAsync((context, _) =>
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

        if (path.Contains("/operations/", StringComparison.Ordinal))
        {
            script.InterruptOnOperationPoll?.Cancel();
            var done = Volatile.Read(ref script.Gets) >= script.States.Length;
            return FakeArmServer.WriteJsonAsync(context, 200, $$"""{"name":"op1","status":"{{(done ? "Succeeded" : "InProgress")}}"}""");
        }

        if (context.Request.Method == "PUT")
        {
            context.Response.Headers["Azure-AsyncOperation"] = $"http://{context.Request.Host}/subscriptions/{Sub}/providers/Microsoft.Compute/locations/local/operations/op1?api-version=2023-07-01";
            if (script.Unchanged)
            {
                context.Response.Headers[ArmHeaders.Unchanged] = "true";
            }

            return FakeArmServer.WriteJsonAsync(context, 200, """{"name":"hello","properties":{"provisioningState":"Creating"}}""");
        }

        if (context.Request.Method == "DELETE")
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            return Task.CompletedTask;
        }

        if (path.EndsWith("/runCommands", StringComparison.Ordinal))
        {
            return FakeArmServer.WriteJsonAsync(context, 200, """{"value":[]}""");
        }

        var index = Math.Min(Interlocked.Increment(ref script.Gets), script.States.Length) - 1;
        var (state, message) = script.States[index];
        var name = path[(path.LastIndexOf('/') + 1)..];
        return FakeArmServer.WriteJsonAsync(context, 200,
            $$"""{"name":"{{name}}","properties":{"provisioningState":"{{(state == "Succeeded" ? "Succeeded" : "Creating")}}","instanceView":{"executionState":"{{state}}","executionMessage":"{{message}}" """ + "}}}");
    });
}
