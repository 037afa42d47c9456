namespace RunCommand.Storage.Tests;

public sealed class StateRulesTests
{
    [Theory]
    [InlineData(ExecutionState.Pending, ExecutionState.Running, true)]
    [InlineData(ExecutionState.Pending, ExecutionState.Succeeded, true)]
    [InlineData(ExecutionState.Running, ExecutionState.TimedOut, true)]
    [InlineData(ExecutionState.Running, ExecutionState.Pending, false)]
    [InlineData(ExecutionState.Pending, ExecutionState.Pending, false)]
    [InlineData(ExecutionState.Failed, ExecutionState.Succeeded, false)]
    [InlineData(ExecutionState.Canceled, ExecutionState.Running, false)]
    public void CanMove_FromTo_OnlyForward(ExecutionState from, ExecutionState to, bool allowed) =>
        Assert.Equal(allowed, StateRules.CanMove(from, to));

    [Theory]
    [InlineData("Succeeded", true)]
    [InlineData("TimedOut", true)]
    [InlineData("succeeded", false)]
    [InlineData("Unknown", false)]
    [InlineData("3", false)]
    [InlineData(null, false)]
    public void TryParseName_WireSpelling_OnlyExactMemberNames(string? wire, bool parsed) =>
        Assert.Equal(parsed, StateRules.TryParseName<ExecutionState>(wire, out _));
}
