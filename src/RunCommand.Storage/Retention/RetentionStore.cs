namespace RunCommand.Storage;

/// <summary>
/// The retention rules, written once for every backend: only finished executions lose anything, a record still named
/// by a resource keeps its row (only its output goes), the oldest output goes first when over the budget.
/// </summary>
public sealed class RetentionStore(IStorageBackend backend) : IRetentionStore
{
    /// <summary>Executions looked at per transaction: small enough not to hold the write lock long.</summary>
    private const int BatchSize = 100;

    public async Task<PruneOutcome> PruneAsync(RetentionPolicy policy, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var cutoff = now - policy.MaxAge;
        var outcome = await PruneOldAsync(cutoff, cancellationToken);
        outcome = outcome.Plus(await PruneOverBudgetAsync(policy.MaxOutputBytes, cancellationToken));

        // An agent away longer than the retention age has pruned those executions itself (its own age limit).
        await backend.WriteAsync(rows => rows.DeleteForgottenExecutionsBeforeAsync(cutoff, cancellationToken), cancellationToken);

        // Operations outlive their execution (a deleted run command's, a pruned one's) so that a poll still gets its
        // answer; once older than the retention age, nobody polls them.
        await backend.WriteAsync(rows => rows.DeleteSettledOperationsBeforeAsync(cutoff, cancellationToken), cancellationToken);
        return outcome;
    }

    public Task CompactAsync(CancellationToken cancellationToken) => backend.CompactAsync(cancellationToken);

    private async Task<PruneOutcome> PruneOldAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var outcome = PruneOutcome.None;
        EndedExecution? last = null;
        while (true)
        {
            var (batch, page) = await backend.WriteAsync(async rows =>
            {
                var page = await rows.ListEndedExecutionsAsync(cutoff, last, BatchSize, cancellationToken);
                var removed = PruneOutcome.None;
                foreach (var ended in page.Where(e => e.Execution.IsTerminal))
                {
                    removed = removed.Plus(await RemoveAsync(rows, ended, keepRecord: ended.Referenced, cancellationToken));
                }

                return (removed, page);
            }, cancellationToken);
            outcome = outcome.Plus(batch);
            if (page.Count < BatchSize)
            {
                return outcome;
            }

            last = page[^1];
        }
    }

    private async Task<PruneOutcome> PruneOverBudgetAsync(long budgetBytes, CancellationToken cancellationToken)
    {
        var outcome = PruneOutcome.None;
        EndedExecution? last = null;
        while (true)
        {
            var (batch, page, withinBudget) = await backend.WriteAsync(async rows =>
            {
                var held = await rows.SumOutputBytesAsync(cancellationToken);
                var removed = PruneOutcome.None;
                if (held <= budgetBytes)
                {
                    return (removed, (IReadOnlyList<EndedExecution>)[], true);
                }

                var page = await rows.ListEndedExecutionsAsync(null, last, BatchSize, cancellationToken);
                foreach (var ended in page.Where(e => e.Execution.IsTerminal && e.OutputBytes > 0))
                {
                    if (held - removed.OutputBytes <= budgetBytes)
                    {
                        break;
                    }

                    removed = removed.Plus(await RemoveAsync(rows, ended, keepRecord: true, cancellationToken));
                }

                return (removed, page, held - removed.OutputBytes <= budgetBytes);
            }, cancellationToken);
            outcome = outcome.Plus(batch);
            if (withinBudget || page.Count < BatchSize)
            {
                // Within the budget, or what is left over it belongs to executions still running.
                return outcome;
            }

            last = page[^1];
        }
    }

    private static async Task<PruneOutcome> RemoveAsync(IRows rows, EndedExecution ended, bool keepRecord, CancellationToken cancellationToken)
    {
        var id = ended.Execution.ExecutionId;
        await rows.DeleteOutputAsync(id, cancellationToken);
        if (keepRecord)
        {
            return new PruneOutcome(0, ended.OutputBytes);
        }

        await rows.DeleteExecutionAsync(id, cancellationToken);
        return new PruneOutcome(1, ended.OutputBytes);
    }
}
