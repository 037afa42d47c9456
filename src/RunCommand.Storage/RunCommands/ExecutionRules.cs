namespace RunCommand.Storage;

/// <summary>
/// The rules every change of an execution follows, on any backend: how one is stopped, how a report moves it,
/// how output is appended exactly once, when a delete is complete.
/// </summary>
internal static class ExecutionRules
{
    /// <summary>
    /// Stops an execution: one that never reached the agent is canceled here; one the agent has is flagged and the
    /// agent reports the end. Returns true when the execution is over now; false when the agent must be told
    /// (the caller bumps the goal state).
    /// </summary>
    public static async Task<bool> StopAsync(IRows rows, ExecutionRecord execution, string message, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (execution.IsTerminal)
        {
            return true;
        }

        rows.Notify(Topics.Execution(execution.ExecutionId));
        if (!execution.Delivered)
        {
            await rows.UpdateExecutionAsync(execution with
            {
                State = ExecutionState.Canceled,
                Message = message + " before it reached the agent.",
                EndTime = now,
                CancelRequested = true,
            }, dropSecrets: true, cancellationToken);
            return true;
        }

        await rows.UpdateExecutionAsync(execution with { CancelRequested = true, Message = message + "; waiting for the agent to stop it." }, dropSecrets: false, cancellationToken);
        return false;
    }

    /// <summary>
    /// The execution after a report moved it, or null when the report does not move it: only forward, never out of a
    /// terminal state. A terminal report fills in missing start and end times; a Pending report on a Pending execution
    /// only replaces its message (the agent's note on how the not yet started run is getting on).
    /// </summary>
    public static ExecutionRecord? Apply(ExecutionRecord execution, ReportWrite report, DateTimeOffset now)
    {
        if (execution.State == ExecutionState.Pending && report.State == ExecutionState.Pending)
        {
            // A note on a run that has not started (a failed script download attempt): only the message changes, unless a
            // cancel is under way (its message says so and stays).
            return report.Message == execution.Message || execution.CancelRequested ? null : execution with { Message = report.Message, Delivered = true };
        }

        if (execution.IsTerminal || report.State == execution.State || !StateRules.CanMove(execution.State, report.State))
        {
            return null;
        }

        var terminal = report.State.IsTerminal();
        return execution with
        {
            State = report.State,
            ExitCode = report.ExitCode,
            Message = report.Message,
            StartTime = execution.StartTime ?? report.StartTime ?? (terminal ? now : null),
            EndTime = terminal ? report.EndTime ?? now : null,
            Delivered = true,
        };
    }

    /// <summary>
    /// Appends the part of a chunk past what is held and returns the new length; a chunk starting beyond the end is
    /// refused (the acknowledgement tells the agent where to resume), one wholly held already changes nothing.
    /// </summary>
    public static async Task<long> AppendOutputAsync(IRows rows, string executionId, OutputStream stream, long held, long? offset, byte[]? data, CancellationToken cancellationToken)
    {
        if (offset is not { } start || data is not { Length: > 0 } || IsGap(held, start) || start + data.Length <= held)
        {
            return held;
        }

        var skip = (int)(held - start);
        var fresh = skip == 0 ? data : data.AsSpan(skip).ToArray();
        await rows.InsertOutputAsync(executionId, stream, held, fresh, cancellationToken);
        return held + fresh.Length;
    }

    /// <summary>True when output starting at <paramref name="offset"/> would leave a hole after the <paramref name="held"/> bytes.</summary>
    public static bool IsGap(long held, long offset) => offset > held;

    /// <summary>
    /// Appends contiguous <paramref name="pieces"/> starting at <paramref name="offset"/> (not past <paramref name="held"/>:
    /// see <see cref="IsGap"/>), each the way <see cref="AppendOutputAsync"/> appends a chunk; returns the new length.
    /// </summary>
    public static async Task<long> AppendOutputRunAsync(IRows rows, string executionId, OutputStream stream, long held, long offset, IReadOnlyList<byte[]> pieces, CancellationToken cancellationToken)
    {
        foreach (var piece in pieces)
        {
            held = await AppendOutputAsync(rows, executionId, stream, held, offset, piece, cancellationToken);
            offset += piece.Length;
        }

        return held;
    }

    /// <summary>When the execution of a run command being deleted has ended, the resource goes and its delete operation completes.</summary>
    public static async Task CompleteDeleteAsync(IRows rows, string executionId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await rows.FindDeletingRunCommandAsync(executionId, cancellationToken) is { } deleting)
        {
            await RemoveAsync(rows, deleting.Command, deleting.OperationId, now, cancellationToken);
        }
    }

    /// <summary>
    /// The resource goes with everything it ran that has ended: each execution's record, operations and output, and the
    /// machine's agent is told (through its goal state) to delete its files of them. An older execution still being
    /// stopped stays until it ends; retention removes it later.
    /// </summary>
    public static async Task RemoveAsync(IRows rows, RunCommandKey command, string deleteOperationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await rows.DeleteRunCommandAsync(command, cancellationToken);
        await rows.CompleteOperationAsync(deleteOperationId, now, cancellationToken);
        var forgotten = false;
        foreach (var execution in await rows.ListExecutionsOfCommandAsync(command, cancellationToken))
        {
            if (!execution.IsTerminal)
            {
                continue;
            }

            await rows.DeleteOutputAsync(execution.ExecutionId, cancellationToken);
            await rows.DeleteExecutionAsync(execution.ExecutionId, cancellationToken);
            if (execution.Delivered)
            {
                await rows.InsertForgottenExecutionAsync(command.Vm, execution.ExecutionId, now, cancellationToken);
                forgotten = true;
            }
        }

        if (forgotten)
        {
            await TellAgentAsync(rows, command.Vm, cancellationToken);
        }
    }

    /// <summary>
    /// Asks the machine's agent to look at its goal state again (a new version wakes its long poll); a write that
    /// created a run command row says so (<paramref name="runCommandsAdded"/> 1), in the same statement.
    /// </summary>
    public static async Task TellAgentAsync(IRows rows, VmKey vm, CancellationToken cancellationToken, int runCommandsAdded = 0)
    {
        await rows.BumpGoalVersionAsync(vm, runCommandsAdded, cancellationToken);
        rows.Notify(Topics.Vm(vm));
    }
}
