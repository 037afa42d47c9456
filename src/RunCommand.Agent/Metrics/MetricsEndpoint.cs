using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace RunCommand.Agent.Metrics;

/// <summary>
/// The agent's optional Prometheus endpoint (<c>--metrics-listen HOST:PORT</c>): <c>GET /metrics</c> over plain HTTP/1.x
/// on a socket of its own, one request per connection. Hand-written because the agent is NativeAOT without ASP.NET
/// Core: a request line and headers (at most 8 KiB, within 5 s) in, one short answer out. Anything but
/// <c>GET /metrics</c> is 404 (405 for another method on it). Meant for a local scraper or a private network: it has
/// no authentication and says nothing secret (counts only).
/// </summary>
public sealed class MetricsEndpoint : IAsyncDisposable
{
    private const int MaxRequestBytes = 8 * 1024;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly AgentMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    private MetricsEndpoint(TcpListener listener, AgentMetrics metrics, ILogger logger)
    {
        _listener = listener;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>The address it listens on (the port resolved when 0 was asked).</summary>
    public IPEndPoint Address => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Binds now (so a taken port fails the start with a clear error) and serves until disposed.</summary>
    public static MetricsEndpoint Start(IPEndPoint address, AgentMetrics metrics, ILogger logger)
    {
        var listener = new TcpListener(address);
        listener.Start();
        var endpoint = new MetricsEndpoint(listener, metrics, logger);
        endpoint._loop = endpoint.AcceptLoopAsync();
        return endpoint;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                Log.MetricsAcceptFailed(_logger, e.Message);
                continue;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: false);
            var requestLine = await ReadRequestLineAsync(stream, timeout.Token);
            var parts = requestLine?.Split(' ') ?? [];
            var (status, body) = parts switch
            {
                [_, var target, _] when target.Split('?')[0] != "/metrics" => ("404 Not Found", "Not found: the agent serves GET /metrics only.\n"),
                ["GET", _, _] => ("200 OK", _metrics.Render()),
                [_, _, _] => ("405 Method Not Allowed", "Only GET is allowed.\n"),
                _ => ("400 Bad Request", "Bad request.\n"),
            };
            var payload = Encoding.UTF8.GetBytes(body);
            var head = $"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
            await stream.WriteAsync(payload, timeout.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // A client that went away or was too slow: nothing to answer.
        }
    }

    /// <summary>Reads up to the end of the headers; returns the request line, or null when the request is too long or cut.</summary>
    private static async Task<string?> ReadRequestLineAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequestBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                return null;
            }

            length += read;
            var text = Encoding.ASCII.GetString(buffer, 0, length);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal) || text.Contains("\n\n", StringComparison.Ordinal))
            {
                return text[..text.IndexOf('\n', StringComparison.Ordinal)].TrimEnd('\r');
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
