using Microsoft.Extensions.Logging;
using Npgsql;

namespace RunCommand.Storage.Postgres;

/// <summary>
/// Brings the changes other nodes commit to this node's waiters: one dedicated connection runs
/// <c>LISTEN runcommand</c>, and each notification (<c>&lt;node&gt;|&lt;topic&gt;</c>, sent by
/// <see cref="PostgresBackend"/> inside the writing transaction) is published to the in-process change feed; this
/// node's own are skipped (it published them after its commit). A notification can be missed while the connection is
/// down, so after every (re)connect and every <see cref="SafetyInterval"/> without one, every waiter is woken once:
/// it reads again and waits again. A lost notification costs at most that interval, never a stuck poll.
/// </summary>
public sealed partial class PostgresChangeListener(string connectionString, string nodeTag, IChangeFeed changes, ILogger logger)
{
    public const string Channel = "runcommand";

    /// <summary>The slow safety pass: longest a waiter sleeps on a missed notification.</summary>
    public static readonly TimeSpan SafetyInterval = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    /// <summary>Listens until <paramref name="stoppingToken"/> fires; reconnects on its own.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var prefix = nodeTag + "|";
        var connected = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Not from the pool: this connection lives as long as the node, and only listens.
                var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, KeepAlive = 5 };
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                connection.Notification += (_, e) =>
                {
                    if (!e.Payload.StartsWith(prefix, StringComparison.Ordinal) && e.Payload.IndexOf('|') is var bar and >= 0)
                    {
                        changes.Publish(e.Payload[(bar + 1)..]);
                    }
                };
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                if (connected)
                {
                    LogReconnected(logger);
                }

                connected = true;
                // Whatever was notified while this connection was not listening is unknown: everyone reads again.
                changes.PublishAll();
                while (!stoppingToken.IsCancellationRequested)
                {
                    if (!await connection.WaitAsync(SafetyInterval, stoppingToken))
                    {
                        changes.PublishAll();
                    }
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && e is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
            {
                // The message names the host, never the connection string's password.
                LogLost(logger, e.Message, (long)ReconnectDelay.TotalMilliseconds);
                changes.PublishAll();
                await Task.Delay(ReconnectDelay, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    [LoggerMessage(400, LogLevel.Warning, "Lost the PostgreSQL LISTEN connection ({Detail}); waiters fall back to the safety pass, reconnecting in {DelayMs} ms")]
    private static partial void LogLost(ILogger logger, string detail, long delayMs);

    [LoggerMessage(401, LogLevel.Information, "PostgreSQL LISTEN connection restored")]
    private static partial void LogReconnected(ILogger logger);
}
