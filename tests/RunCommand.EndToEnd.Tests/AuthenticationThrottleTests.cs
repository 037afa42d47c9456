using System.Net;
using RunCommand.Client;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>Failed authentications are throttled per client address (issue 12): 429 with Retry-After, logged, in the activity log.</summary>
public sealed class AuthenticationThrottleTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-throttle-").FullName;
    private ServerProcess _server = null!;

    public async Task InitializeAsync() =>
        _server = await ServerProcess.StartAsync(Path.Combine(_dir, "server"),
            extraArgs: ["--RunCommand:FailedAuthenticationsPerWindow", "5", "--RunCommand:FailedAuthenticationWindow", "00:00:05"]);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task WrongTokens_BeyondTheLimit_Get429WithRetryAfterUntilTheWindowEnds()
    {
        var url = $"/subscriptions/{_server.SubscriptionId}/providers/Microsoft.Compute/virtualMachines?api-version=2023-07-01";
        using var guesser = _server.CreateHttpClient("rca_guessed-token");
        for (var i = 0; i < 5; i++)
        {
            using var refused = await guesser.GetAsync(url);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var throttled = await guesser.GetAsync(url);
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(5), throttled.Headers.RetryAfter?.Delta);
        Assert.Contains("TooManyFailedAuthentications", await throttled.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Even a valid token from that address waits for the window to end, then works again.
        using var admin = _server.CreateHttpClient();
        using (var blocked = await admin.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        }

        await Wait.UntilAsync(async () => (await admin.GetAsync(url)).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "the throttle window to end");

        using var client = new RunCommandClient(new RunCommandClientOptions { Server = new Uri(_server.Url), Token = _server.AdminToken });
        var log = await client.ListActivityLogAsync(_server.SubscriptionId, null);
        Assert.Contains(log, e => e.HttpRequest?.ClientIpAddress == "127.0.0.1" && e.Properties?["statusCode"] == "429");
        Assert.Contains("too many failed authentications", _server.Process.Output, StringComparison.Ordinal);
    }
}
