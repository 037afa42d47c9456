using Microsoft.Extensions.Options;
using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>
/// Keeps the store from filling its disk: every <see cref="ServerOptions.RetentionInterval"/> it deletes finished
/// executions and output older than <see cref="ServerOptions.ExecutionRetention"/> and, beyond
/// <see cref="ServerOptions.OutputBudgetBytes"/>, the oldest finished output; then gives the space back to the file
/// system. The rules live in the store's verb; this only decides when and with which limits.
/// </summary>
public sealed class Retention(IRunCommandStore store, TimeProvider time, IOptions<ServerOptions> options, ILogger<Retention> logger)
    : BackgroundService
{
    /// <summary>One pass; returns what it deleted.</summary>
    public async Task<PruneOutcome> RunOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var cutoff = time.GetUtcNow() - settings.ExecutionRetention;
        var outcome = await store.PruneAsync(cutoff, settings.OutputBudgetBytes, cancellationToken);
        await store.CompactAsync(cancellationToken);
        if (outcome.Executions > 0 || outcome.OutputBytes > 0)
        {
            Log.Pruned(logger, outcome.Executions, outcome.OutputBytes, cutoff, settings.OutputBudgetBytes);
        }

        return outcome;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RetentionInterval, time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (StorageFullException)
            {
                // Deleting needs a little room too (the WAL); the next pass tries again.
                Log.BackgroundStorageFull(logger, "retention", options.Value.RetentionInterval.TotalSeconds);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
