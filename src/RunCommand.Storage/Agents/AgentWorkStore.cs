namespace RunCommand.Storage;

/// <summary>The agent protocol's verbs over any backend: goal-state leases and reports.</summary>
public sealed class AgentWorkStore(IStorageBackend backend) : IAgentWorkStore
{
    public Task<long> GetGoalStateVersionAsync(VmKey vm, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetGoalVersionAsync(vm, cancellationToken), cancellationToken);

    public async Task<(long Version, IReadOnlyList<PendingWork> Work)> LeaseGoalStateAsync(VmKey vm, CancellationToken cancellationToken)
    {
        // Most polls find everything delivered already: a plain read, no write transaction.
        var read = await backend.ReadAsync(rows => ReadGoalStateAsync(rows, vm, cancellationToken), cancellationToken);
        if (read.Work.All(w => w.Execution.Delivered))
        {
            return read;
        }

        return await backend.WriteAsync(async rows =>
        {
            // Checkpoint: once delivered, a delete can no longer cancel an execution on the server alone; it must ask
            // the agent. Marked in the same transaction as the read, so the answer and the mark agree.
            var (version, work) = await ReadGoalStateAsync(rows, vm, cancellationToken);
            var delivered = new List<PendingWork>(work.Count);
            foreach (var item in work)
            {
                if (item.Execution is { Delivered: false, State: ExecutionState.Pending })
                {
                    var marked = item.Execution with { Delivered = true };
                    await rows.UpdateExecutionAsync(marked, dropSecrets: false, cancellationToken);
                    delivered.Add(item with { Execution = marked });
                }
                else
                {
                    delivered.Add(item);
                }
            }

            return (version, (IReadOnlyList<PendingWork>)delivered);
        }, cancellationToken);
    }

    private static async Task<(long Version, IReadOnlyList<PendingWork> Work)> ReadGoalStateAsync(IRows rows, VmKey vm, CancellationToken cancellationToken) =>
        (await rows.GetGoalVersionAsync(vm, cancellationToken), await rows.ListUnfinishedExecutionsAsync(vm, cancellationToken));

    public Task<ReportOutcome?> RecordReportAsync(VmKey vm, ReportWrite report, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync<ReportOutcome?>(async rows =>
        {
            if (await rows.GetExecutionAsync(report.ExecutionId, cancellationToken) is not { } found || found.Command.Vm.Key != vm.Key)
            {
                return null;
            }

            var execution = found.Execution;
            var stdoutLength = await ExecutionRules.AppendOutputAsync(rows, execution.ExecutionId, OutputStream.Stdout, execution.StdoutLength, report.StdoutOffset, report.StdoutData, cancellationToken);
            var stderrLength = await ExecutionRules.AppendOutputAsync(rows, execution.ExecutionId, OutputStream.Stderr, execution.StderrLength, report.StderrOffset, report.StderrData, cancellationToken);
            var after = ExecutionRules.Apply(execution, report, now) ?? execution;
            after = after with { StdoutLength = stdoutLength, StderrLength = stderrLength };
            if (after != execution)
            {
                await rows.UpdateExecutionAsync(after, dropSecrets: after.IsTerminal, cancellationToken);
                rows.Notify(Topics.Execution(execution.ExecutionId));
                if (after.IsTerminal && !execution.IsTerminal)
                {
                    // The goal state no longer lists it, but the version stays: the agent reported the end itself
                    // and has nothing to do about it, so its poll is not woken on every script's latency path.
                    await ExecutionRules.CompleteDeleteAsync(rows, execution.ExecutionId, now, cancellationToken);
                }
            }

            return Outcome(after);
        }, cancellationToken);

    public Task<IReadOnlyList<string>> ListForgottenExecutionsAsync(VmKey vm, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListForgottenExecutionsAsync(vm, cancellationToken), cancellationToken);

    public Task<bool> AcknowledgeForgottenAsync(VmKey vm, string executionId, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.DeleteForgottenExecutionAsync(vm, executionId, cancellationToken), cancellationToken);

    public Task<ReportOutcome?> AppendOutputAsync(VmKey vm, string executionId, OutputStream stream, long offset, IReadOnlyList<byte[]> pieces, CancellationToken cancellationToken) =>
        backend.WriteAsync<ReportOutcome?>(async rows =>
        {
            if (await rows.GetExecutionAsync(executionId, cancellationToken) is not { } found || found.Command.Vm.Key != vm.Key)
            {
                return null;
            }

            var execution = found.Execution;
            var held = stream == OutputStream.Stdout ? execution.StdoutLength : execution.StderrLength;
            if (ExecutionRules.IsGap(held, offset))
            {
                return Outcome(execution) with { Gap = true };
            }

            var length = await ExecutionRules.AppendOutputRunAsync(rows, executionId, stream, held, offset, pieces, cancellationToken);
            if (length == held)
            {
                return Outcome(execution);
            }

            var after = stream == OutputStream.Stdout ? execution with { StdoutLength = length } : execution with { StderrLength = length };
            await rows.UpdateExecutionAsync(after, dropSecrets: after.IsTerminal, cancellationToken);
            rows.Notify(Topics.Execution(executionId));
            return Outcome(after);
        }, cancellationToken);

    private static ReportOutcome Outcome(ExecutionRecord execution) =>
        new(execution.StdoutLength, execution.StderrLength, execution.CancelRequested && !execution.IsTerminal, execution.IsTerminal);
}
