using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm.ActionRuns;
using RunCommand.Storage;

namespace RunCommand.Server.Tests;

public sealed class ActionRunTests
{
    private static ExecutionRecord Ended(ExecutionState state, int? exitCode, string? message = null) => new()
    {
        ExecutionId = "e",
        State = state,
        ExitCode = exitCode,
        Message = message,
        Created = DateTimeOffset.UnixEpoch,
    };

    private static ActionRunRequest Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return ActionRunRequest.Parse(document.RootElement);
    }

    [Fact]
    public void Build_Succeeded_MatchesAzureLinuxFormat()
    {
        var status = Assert.Single(ActionRunResult.Build(Ended(ExecutionState.Succeeded, 0), "hello\n", "").Value);

        Assert.Equal("ProvisioningState/succeeded", status.Code);
        Assert.Equal("Info", status.Level);
        Assert.Equal("Provisioning succeeded", status.DisplayStatus);
        Assert.Equal("Enable succeeded: \n[stdout]\nhello\n\n[stderr]\n", status.Message);
    }

    [Fact]
    public void Build_NonZeroExit_ReportsExitStatusLikeTheExtension()
    {
        var status = Assert.Single(ActionRunResult.Build(Ended(ExecutionState.Failed, 127), "", "ech: not found\n").Value);

        Assert.Equal("ProvisioningState/failed/0", status.Code);
        Assert.Equal("Error", status.Level);
        Assert.Equal("Enable failed: failed to execute command: command terminated with exit status=127\n[stdout]\n\n[stderr]\nech: not found\n", status.Message);
    }

    [Fact]
    public void Parse_ValidBody_KeepsLinesAndParameters()
    {
        var request = Parse("""{"commandId":"RunShellScript","script":["echo $1","echo $X"],"parameters":[{"value":"a"},{"name":"X","value":"1"}]}""");

        Assert.Empty(request.Errors);
        Assert.Equal("RunShellScript", request.CommandId);
        Assert.Equal(["echo $1", "echo $X"], request.Script);
        Assert.Equal(["", "X"], request.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void Parse_BadBody_ReturnsEveryErrorWithItsTarget()
    {
        var request = Parse("""{"script":"echo","parameters":[{"name":"bad-name","value":"x"},{"name":"n"}]}""");

        Assert.Equal(["commandId", "script", "parameters[0].name", "parameters[1]"], request.Errors.Select(e => e.Target));
    }

    [Fact]
    public void Parse_ParameterNameNotAString_IsAnErrorNotAPositionalArgument()
    {
        var request = Parse("""{"commandId":"RunShellScript","script":["echo $1"],"parameters":[{"name":5,"value":"x"},{"name":null,"value":"y"}]}""");

        Assert.Equal(["parameters[0].name"], request.Errors.Select(e => e.Target));
    }
}
