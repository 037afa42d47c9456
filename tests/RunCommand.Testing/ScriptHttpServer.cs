using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RunCommand.Testing;

/// <summary>What <see cref="ScriptHttpServer"/> answers to one request.</summary>
/// <param name="Hang">True: read the request, then never answer (the client must give up on its own).</param>
public sealed record ScriptAnswer(int Status, byte[] Body, bool Hang = false)
{
    public static ScriptAnswer Text(string body, int status = 200) => new(status, Encoding.UTF8.GetBytes(body));
}

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 for script downloads (one answer per connection, then close), with
/// full control over status codes and hanging. Plain sockets: no ASP.NET needed in the projects that use it.
/// </summary>
public sealed class ScriptHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, int, ScriptAnswer> _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _requests;

    /// <param name="answer">Gets the request target (path and query) and the 1-based number of the request.</param>
    public ScriptHttpServer(Func<string, int, ScriptAnswer> answer)
    {
        _answer = answer;
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>host:port, as a download error message names it.</summary>
    public string HostAndPort => $"127.0.0.1:{Port}";

    public string Url(string pathAndQuery) => $"http://{HostAndPort}{pathAndQuery}";

    /// <summary>Every request target received, in order (path and query).</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                var buffer = new byte[4096];
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    head.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }

                var target = head.ToString().Split(' ')[1];
                Requests.Enqueue(target);
                var answer = _answer(target, Interlocked.Increment(ref _requests));
                if (answer.Hang)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }

                var header = $"HTTP/1.1 {answer.Status} X\r\nContent-Length: {answer.Body.Length}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(header), _stop.Token);
                await stream.WriteAsync(answer.Body, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
            {
                // The client gave up or the server is stopping.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
