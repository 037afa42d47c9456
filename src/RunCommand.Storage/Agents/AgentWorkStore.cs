namespace RunCommand.Storage;

/// <summary>The agent protocol's verbs over any backend: goal-state leases and reports.</summary>
public sealed class AgentWorkStore(IStorageBackend backend) : IAgentWorkStore
{
    public Task<long> GetGoalStateVersionAsync(VmKey vm, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetGoalVersionAsync(vm, cancellationToken), cancellationToken);

    public async Task<(long Version, IReadOnlyList<PendingWork> Work)> LeaseGoalStateAsync(VmKey vm, CancellationToken cancellationToken)
    {
        // Most polls find everything delivered already: a plain read, no write transaction.
        var read = await backend.ReadAsync(rows => ReadWorkAsync(rows, vm, cancellationToken), cancellationToken);
        if (AllDelivered(read.Work))
        {
            return read;
        }

        return await backend.WriteAsync(async rows =>
        {
            var (version, work) = await ReadWorkAsync(rows, vm, cancellationToken);
            return (version, await MarkDeliveredAsync(rows, work, cancellationToken));
        }, cancellationToken);
    }

    public Task<GoalStateAnswer?> ReadGoalStateAsync(VmKey vm, AgentCredential presented, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => ReadAnswerAsync(rows, vm, presented, cancellationToken), cancellationToken);

    public async Task<GoalStateAnswer?> DeliverGoalStateAsync(VmKey vm, AgentCredential presented, GoalStateAnswer read, CancellationToken cancellationToken)
    {
        if (AllDelivered(read.Work))
        {
            return read;
        }

        return await backend.WriteAsync(async rows =>
            await ReadAnswerAsync(rows, vm, presented, cancellationToken) is { } answer
                ? answer with { Work = await MarkDeliveredAsync(rows, answer.Work, cancellationToken) }
                : null, cancellationToken);
    }

    /// <summary>The answer on one snapshot, its credential check first: a machine without that credential gets nothing.</summary>
    private static async Task<GoalStateAnswer?> ReadAnswerAsync(IRows rows, VmKey vm, AgentCredential presented, CancellationToken cancellationToken)
    {
        if (await rows.GetGoalVersionAndCredentialAsync(vm, cancellationToken) is not { } stored || !Holds(stored.Credential, presented))
        {
            return null;
        }

        var work = await rows.ListUnfinishedExecutionsAsync(vm, cancellationToken);
        var forget = await rows.ListForgottenExecutionsAsync(vm, cancellationToken);
        return new GoalStateAnswer(stored.Version, work, forget);
    }

    /// <summary>
    /// Whether the stored credential is the one the agent presented: its public key when it signed with a key, else its
    /// token's hash. Compared here, above the backends, so every backend answers the same.
    /// </summary>
    private static bool Holds(AgentCredential stored, AgentCredential presented) => presented switch
    {
        { PublicKey: { } key } => stored.PublicKey is { } held && held.AsSpan().SequenceEqual(key),
        { TokenHash: { } hash } => stored.TokenHash is { } held && held.AsSpan().SequenceEqual(hash),
        _ => false,
    };

    private static bool AllDelivered(IReadOnlyList<PendingWork> work) => work.All(w => w.Execution.Delivered);

    /// <summary>
    /// Checkpoint: once delivered, a delete can no longer cancel an execution on the server alone; it must ask the agent.
    /// Marked in the same transaction as the read, so the answer and the mark agree.
    /// </summary>
    private static async Task<IReadOnlyList<PendingWork>> MarkDeliveredAsync(IRows rows, IReadOnlyList<PendingWork> work, CancellationToken cancellationToken)
    {
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

        return delivered;
    }

    private static async Task<(long Version, IReadOnlyList<PendingWork> Work)> ReadWorkAsync(IRows rows, VmKey vm, CancellationToken cancellationToken) =>
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
