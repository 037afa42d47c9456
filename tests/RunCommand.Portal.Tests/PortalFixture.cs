using Microsoft.Playwright;
using RunCommand.Testing;

namespace RunCommand.Portal.Tests;

/// <summary>
/// One real server and one real Chromium (the system's, never a downloaded one) per test class; each test enrolls
/// its own agents and opens its own browser context, so no test depends on another's data or session.
/// </summary>
public sealed class PortalFixture : IAsyncLifetime
{
    /// <summary>Debian's Chromium; .ci/run installs it when missing. RUNCMD_CHROMIUM overrides the path.</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("RUNCMD_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public Stack Stack { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"No Chromium at {ChromiumPath}: install Debian's 'chromium' package (.ci/run does) or set RUNCMD_CHROMIUM.");
        }

        Stack = await Stack.StartAsync("portal");
        _playwright = await Playwright.CreateAsync();
        // Playwright gives every launch a fresh, temporary --user-data-dir of its own.
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            ChromiumSandbox = false,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            ],
            Timeout = 60_000,
        });
    }

    /// <summary>A new browser context (its own session storage), desktop-sized unless given a viewport.</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 860)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Stack.Server.Url,
            ViewportSize = new ViewportSize { Width = width, Height = height },
            AcceptDownloads = true,
        });
        // Generous: the machine running the tests is shared and slow.
        context.SetDefaultTimeout(30_000);
        context.SetDefaultNavigationTimeout(60_000);
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (Stack is not null)
        {
            await Stack.DisposeAsync();
        }
    }
}
