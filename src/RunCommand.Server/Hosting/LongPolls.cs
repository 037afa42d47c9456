namespace RunCommand.Server.Hosting;

/// <summary>
/// The one wait of every long poll (an agent's goal state, operation waits, <c>logs --follow</c>, deployment and fleet
/// progress): until what it watches changes, its time is up, or the server begins to stop. A stopping server must not
/// hold a request for up to a minute (the host would wait for it before exiting): each poll ends at once, a client's
/// with the state as it is, an agent's with 503 so it moves to another node or comes back later.
/// </summary>
public sealed class LongPolls(TimeProvider time, IHostApplicationLifetime lifetime)
{
    private readonly SharedDeadlines _deadlines = new(time);

    /// <summary>True once the server has begun to stop: a poll answers now instead of waiting.</summary>
    public bool Stopping => lifetime.ApplicationStopping.IsCancellationRequested;

    /// <summary>
    /// Returns when <paramref name="changed"/> completes, <paramref name="remaining"/> has passed or the server begins to
    /// stop (check <see cref="Stopping"/>); throws when <paramref name="cancellationToken"/> (the caller went away) fires.
    /// </summary>
    public async Task WaitAsync(Task changed, TimeSpan remaining, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        await Task.WhenAny(changed, _deadlines.After(remaining, stop.Token));
        await stop.CancelAsync();
        cancellationToken.ThrowIfCancellationRequested();
    }
}
