using RunCommand.Storage;
using RunCommand.Storage.Postgres;

namespace RunCommand.Server.Hosting;

/// <summary>
/// On PostgreSQL, keeps this node's <c>LISTEN</c> connection (<see cref="PostgresChangeListener"/>) for as long as the
/// node runs, so waits on this node wake when another node commits what they watch. Nothing to do on SQLite.
/// </summary>
public sealed class ChangeRelay(RunCommandStorage storage, ILogger<ChangeRelay> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        storage.Backend is PostgresBackend postgres ? postgres.CreateListener(logger).RunAsync(stoppingToken) : Task.CompletedTask;
}
