using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace RunCommand.Testing;

/// <summary>What <see cref="ScriptHttpServer"/> answers to one request.</summary>
/// <param name="Hang">True: read the request, then never answer (the client must give up on its own).</param>
public sealed record ScriptAnswer(int Status, byte[] Body, bool Hang = false)
{
    public static ScriptAnswer Text(string body, int status = 200) => new(status, Encoding.UTF8.GetBytes(body));
}

/// <summary>
/// A Kestrel server on 127.0.0.1 serving script downloads, with full control over status codes and hanging.
/// </summary>
public sealed class ScriptHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stop = new();
    private int _requests;

    /// <param name="answer">Gets the request target (path and query) and the 1-based number of the request.</param>
    public ScriptHttpServer(Func<string, int, ScriptAnswer> answer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(async context =>
        {
            var target = context.Request.Path + context.Request.QueryString;
            Requests.Enqueue(target);
            var reply = answer(target, Interlocked.Increment(ref _requests));
            if (reply.Hang)
            {
                await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, context.RequestAborted).Token);
            }

            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "text/plain";
            await context.Response.Body.WriteAsync(reply.Body);
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Port = new Uri(address).Port;
    }

    public int Port { get; }

    /// <summary>host:port, as a download error message names it.</summary>
    public string HostAndPort => $"127.0.0.1:{Port}";

    public string Url(string pathAndQuery) => $"http://{HostAndPort}{pathAndQuery}";

    /// <summary>Every request target received, in order (path and query).</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stop.Dispose();
    }
}
