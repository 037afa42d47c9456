using RunCommand.Cli.Commands;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Tests;

/// <summary>
/// When a fleet run's report prints a target's output from the run's view, and when it must read the target's run
/// command for it (FleetCommands.HoldsWholeOutput).
/// </summary>
public sealed class FleetReportTests
{
    private static readonly FleetTargetStatus Ended = new()
    {
        ResourceId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        State = ExecutionStates.Succeeded,
        ExitCode = 0,
        StartTime = DateTimeOffset.UnixEpoch,
        EndTime = DateTimeOffset.UnixEpoch,
        Output = "hi ✓\n",
        Error = "",
        OutputLength = 7,
        ErrorLength = 0,
    };

    [Fact]
    public void HoldsWholeOutput_EndedAndTheTailsAreEveryByte_True() =>
        Assert.True(FleetCommands.HoldsWholeOutput(Ended));

    [Fact]
    public void HoldsWholeOutput_NoOutputAtAll_True() =>
        Assert.True(FleetCommands.HoldsWholeOutput(Ended with { Output = null, Error = null, OutputLength = 0, ErrorLength = 0 }));

    [Theory]
    [InlineData(ExecutionStates.Running)]
    [InlineData(ExecutionStates.Pending)]
    public void HoldsWholeOutput_NotEnded_False(string state) =>
        Assert.False(FleetCommands.HoldsWholeOutput(Ended with { State = state }));

    [Fact]
    public void HoldsWholeOutput_StdoutLongerThanItsTail_False() =>
        Assert.False(FleetCommands.HoldsWholeOutput(Ended with { OutputLength = 5000 }));

    [Fact]
    public void HoldsWholeOutput_StderrLongerThanItsTail_False() =>
        Assert.False(FleetCommands.HoldsWholeOutput(Ended with { ErrorLength = 1 }));

    [Fact]
    public void HoldsWholeOutput_TailDecodedWithReplacements_False() =>
        // Two invalid bytes shown as U+FFFD each: six bytes of text for two bytes held.
        Assert.False(FleetCommands.HoldsWholeOutput(Ended with { Output = "\uFFFD\uFFFD", OutputLength = 2 }));

    [Fact]
    public void HoldsWholeOutput_AServerThatSendsNoLengths_False() =>
        Assert.False(FleetCommands.HoldsWholeOutput(Ended with { OutputLength = null, ErrorLength = null }));
}
