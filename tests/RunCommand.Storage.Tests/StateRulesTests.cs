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

    [Fact]
    public void Apply_PendingNoteOnPendingRun_ReplacesOnlyTheMessageUnlessCanceling()
    {
        var now = DateTimeOffset.UnixEpoch;
        var pending = new ExecutionRecord { ExecutionId = "e", State = ExecutionState.Pending, Created = now };
        var note = new ReportWrite { ExecutionId = "e", State = ExecutionState.Pending, Message = "attempt 1 of 3 failed" };

        var after = ExecutionRules.Apply(pending, note, now);

        Assert.Equal(pending with { Message = "attempt 1 of 3 failed", Delivered = true }, after);
        Assert.Null(ExecutionRules.Apply(after!, note, now));
        Assert.Null(ExecutionRules.Apply(pending with { CancelRequested = true, Message = "canceling" }, note, now));
        Assert.Null(ExecutionRules.Apply(pending with { State = ExecutionState.Running }, note, now));
    }

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
