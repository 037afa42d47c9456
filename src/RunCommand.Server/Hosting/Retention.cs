using Microsoft.Extensions.Options;
using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>
/// Keeps the store from filling its disk: every <see cref="ServerOptions.RetentionInterval"/> (and once at start) it
/// prunes finished executions and output older than <see cref="ServerOptions.ExecutionRetentionDays"/> or beyond
/// <see cref="ServerOptions.MaxOutputBytes"/>, then gives the space back to the file system. The rules are the
/// store's (<see cref="IRetentionStore"/>); this only decides when and with which limits. Every node of a shared
/// database runs it; the passes are idempotent.
/// </summary>
public sealed class Retention(IRetentionStore store, TimeProvider time, IOptions<ServerOptions> options, ILogger<Retention> logger)
    : BackgroundService
{
    /// <summary>One pass; returns what it deleted.</summary>
    public async Task<PruneOutcome> RunOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        var policy = new RetentionPolicy(TimeSpan.FromDays(settings.ExecutionRetentionDays), settings.MaxOutputBytes);
        var outcome = await store.PruneAsync(policy, now, cancellationToken);
        await store.CompactAsync(cancellationToken);
        if (outcome != PruneOutcome.None)
        {
            Log.Pruned(logger, outcome.Executions, outcome.OutputBytes, now - policy.MaxAge, policy.MaxOutputBytes);
        }

        return outcome;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RetentionInterval, time);
        try
        {
            do
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is StorageFullException or StorageBusyException)
                {
                    // Deleting needs a little room too (the WAL), and conflicts pass: the next pass tries again.
                    Log.BackgroundStorageUnavailable(logger, "retention", e is StorageFullException ? "disk full" : "write conflicts persisted",
                        options.Value.RetentionInterval.TotalSeconds);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping; also a start that failed (the host then logs a cancelled service as a failure).
        }
    }
}
