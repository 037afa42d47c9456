using System.Text.Json;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>Issue 13's az habits that need the real server: unchanged creates, 413 errors, delete's confirmation.</summary>
public sealed class AzFidelityTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    private async Task<CliRunner> LoggedInAsync()
    {
        var cli = new CliRunner(Path.Combine(_stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(_stack.Server);
        return cli;
    }

    [Fact]
    public async Task Create_IdenticalTwice_SecondSaysUnchangedAndShowsTheFirstRun()
    {
        await _stack.StartAgentAsync("azsame");
        var cli = await LoggedInAsync();
        string[] create = ["vm", "run-command", "create", "-g", "e2e", "--vm-name", "azsame", "-n", "once", "--script", "date +%s%N", "--query", "instanceView.{out:output, start:startTime}"];

        var first = await cli.RunAsync(create);
        var second = await cli.RunAsync(create);

        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.DoesNotContain("Unchanged", first.Stderr, StringComparison.Ordinal);
        Assert.Contains("Unchanged: run command 'once'", second.Stderr, StringComparison.Ordinal);
        Assert.Equal(first.Stdout, second.Stdout);
    }

    [Fact]
    public async Task Create_ScriptLargerThanTheServerTakes_ShowsTheServersError()
    {
        await _stack.StartAgentAsync("azbig");
        var cli = await LoggedInAsync();
        var file = Path.Combine(_stack.Dir, "big-" + Guid.NewGuid().ToString("N") + ".sh");
        await File.WriteAllTextAsync(file, "# " + new string('x', 20 * 1024 * 1024) + "\n");

        var result = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "azbig", "-n", "big", "--script", "@" + file);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("RequestEntityTooLarge", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot reach", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_OnATerminal_AsksFirstAndNoKeepsTheRunCommand()
    {
        await _stack.StartAgentAsync("azask");
        var cli = await LoggedInAsync();
        string[] name = ["-g", "e2e", "--vm-name", "azask", "-n", "keep"];
        var created = await cli.RunAsync(["vm", "run-command", "create", .. name, "--script", "true", "-o", "none"]);
        Assert.True(created.ExitCode == 0, created.Stderr);

        var refused = await cli.RunOnTerminalAsync("n\n", ["vm", "run-command", "delete", .. name]);
        var stillThere = await cli.RunAsync(["vm", "run-command", "show", .. name, "--query", "name", "-o", "tsv"]);
        var accepted = await cli.RunOnTerminalAsync("y\n", ["vm", "run-command", "delete", .. name]);
        var gone = await cli.RunAsync(["vm", "run-command", "show", .. name]);

        Assert.Contains("Are you sure you want to perform this operation? (y/n):", refused.Stdout, StringComparison.Ordinal);
        Assert.Contains("Operation cancelled.", refused.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Equal("keep\n", stillThere.Stdout);
        Assert.True(accepted.ExitCode == 0, accepted.Stdout);
        Assert.Equal(3, gone.ExitCode);
    }

    [Fact]
    public async Task ShowAndDelete_Ids_FromListQuery_AsAzScriptsDo()
    {
        await _stack.StartAgentAsync("azids");
        var cli = await LoggedInAsync();
        await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "azids", "-n", "one", "--script", "true", "-o", "none");
        await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "azids", "-n", "two", "--script", "true", "-o", "none");

        var ids = await cli.RunAsync("vm", "run-command", "list", "-g", "e2e", "--vm-name", "azids", "--query", "[].id", "-o", "tsv");
        var idList = ids.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var shown = await cli.RunAsync(["vm", "run-command", "show", "--ids", .. idList, "--query", "[].name", "-o", "json"]);
        var deleted = await cli.RunAsync(["vm", "run-command", "delete", "--ids", .. idList, "--yes"]);
        var left = await cli.RunAsync("vm", "run-command", "list", "-g", "e2e", "--vm-name", "azids", "-o", "json");

        Assert.Equal(2, idList.Length);
        Assert.True(shown.ExitCode == 0, shown.Stderr);
        Assert.Equal(["one", "two"], JsonSerializer.Deserialize<string[]>(shown.Stdout)!.Order());
        Assert.True(deleted.ExitCode == 0, deleted.Stderr);
        Assert.Equal("[]\n", left.Stdout);
    }
}
