using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace RunCommand.Cli.Tests;

/// <summary>A real Kestrel server on 127.0.0.1:0 answering canned ARM responses; records every request it saw.</summary>
public sealed class FakeArmServer : IAsyncDisposable
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

    /// <summary>The User-Agent header of each request, in order.</summary>
    public ConcurrentQueue<string> UserAgents { get; } = new();

    public static async Task<FakeArmServer> StartAsync(Func<HttpContext, string, Task> handle, X509Certificate2? httpsCertificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        if (httpsCertificate is null)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(httpsCertificate)));
        }

        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeArmServer? server = null;
        app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            server!.UserAgents.Enqueue(context.Request.Headers.UserAgent.ToString());
            server.Requests.Enqueue(($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}", context.Request.Headers.Authorization.ToString(), body));
            await handle(context, body);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FakeArmServer(app, new Uri(address));
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
