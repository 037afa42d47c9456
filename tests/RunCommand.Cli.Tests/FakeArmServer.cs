using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace RunCommand.Cli.Tests;

/// <summary>A real Kestrel server on 127.0.0.1:0 answering canned ARM responses; records every request it saw.</summary>
internal sealed class FakeArmServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeArmServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    /// <summary>"METHOD path?query" and the Authorization header of each request, in order.</summary>
    public ConcurrentQueue<(string Request, string? Authorization, string Body)> Requests { get; } = new();

    public static async Task<FakeArmServer> StartAsync(Func<HttpContext, string, Task> handle)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeArmServer? server = null;
        app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            server!.Requests.Enqueue(($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}", context.Request.Headers.Authorization.ToString(), body));
            await handle(context, body);
        });
        await app.StartAsync();
        server = new FakeArmServer(app, new Uri(app.Urls.First()));
        return server;
    }

    public static Task WriteJsonAsync(HttpContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(json);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
