namespace RunCommand.Server.Agents;

/// <summary>
/// Writes this node's agent contacts to the store in batches, every <see cref="AgentPresence.WriteInterval"/>, and gives
/// up the node's lease when the server stops.
/// </summary>
public sealed class AgentPresenceWriter(AgentPresence presence, TimeProvider time, ILogger<AgentPresenceWriter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(presence.WriteInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await presence.WriteContactsAsync(stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // A database that is unreachable or busy: the next tick writes what is then due.
                    Log.PresenceWriteFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // The server stops: other nodes stop counting the polls held here (the agents reconnect elsewhere and claim them).
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await presence.ReleaseAsync(limit.Token);
        }
        catch (Exception e)
        {
            // Unreachable database: the lease runs out on its own within the presence window.
            Log.PresenceWriteFailed(logger, e.Message);
        }
    }
}
