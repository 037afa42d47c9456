using RunCommand.Contracts.Arm;
using RunCommand.Storage;

namespace RunCommand.Server.Arm.ActionRuns;

/// <summary>
/// The final result of an action run in Azure's Linux format: one status whose message packs the last 4 KiB of
/// stdout and of stderr (<see cref="RunCommandViews.TailBytes"/>, as Azure truncates; the full output stays on the
/// server). A script that exits non-zero gives the extension's failure status, yet the operation itself succeeds:
/// the platform did run it, as in Azure.
/// </summary>
public static class ActionRunResult
{
    public static RunCommandResult Build(ExecutionRecord execution, string stdoutTail, string stderrTail)
    {
        var streams = $"\n[stdout]\n{stdoutTail}\n[stderr]\n{stderrTail}";
        if (execution.State == ExecutionState.Succeeded)
        {
            return new RunCommandResult
            {
                Value = [new InstanceViewStatus
                {
                    Code = "ProvisioningState/succeeded",
                    Level = "Info",
                    DisplayStatus = "Provisioning succeeded",
                    Message = "Enable succeeded: " + streams,
                }],
            };
        }

        var reason = execution.State switch
        {
            ExecutionState.TimedOut => "failed to execute command: command timed out" + (execution.Message is { Length: > 0 } m ? $" ({m})" : ""),
            _ when execution.ExitCode is { } code => $"failed to execute command: command terminated with exit status={code}",
            _ => "failed to execute command: " + (execution.Message is { Length: > 0 } message ? message : $"execution state {execution.State}"),
        };
        return new RunCommandResult
        {
            Value = [new InstanceViewStatus
            {
                Code = "ProvisioningState/failed/0",
                Level = "Error",
                DisplayStatus = "Provisioning failed",
                Message = "Enable failed: " + reason + streams,
            }],
        };
    }
}
