using System.Text.Json;
using Microsoft.Playwright;
using RunCommand.Testing;

namespace RunCommand.Portal.Tests;

/// <summary>What a person does in the portal, written once for the tests.</summary>
public static class PortalSteps
{
    /// <summary>Opens the server's root (which redirects to /portal/) and signs in with the token.</summary>
    public static async Task SignInAsync(IPage page, string token)
    {
        await page.GotoAsync("/");
        await page.GetByLabel("API token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    /// <summary>Waits until the text shows in the page (polling the DOM; generous deadline for a loaded machine).</summary>
    public static async Task ExpectTextAsync(ILocator locator, string text, float timeoutMs = 60_000) =>
        await Assertions.Expect(locator).ToContainTextAsync(text, new() { Timeout = timeoutMs });

    /// <summary>
    /// Runs axe-core (the npm package installed for the portal's build) in the page and fails on serious or critical
    /// violations. Evaluated through the DevTools protocol, so the portal's Content-Security-Policy stays on.
    /// </summary>
    public static async Task ExpectAccessibleAsync(IPage page, string what)
    {
        var axe = Path.Combine(Repo.Root, "src", "RunCommand.Portal", "node_modules", "axe-core", "axe.min.js");
        Assert.True(File.Exists(axe), $"axe-core is not installed at {axe}: the portal's build runs npm ci.");
        await page.EvaluateAsync(await File.ReadAllTextAsync(axe));
        var violations = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const result = await axe.run(document, { resultTypes: ["violations"] });
              return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(" ")).join("; ")}`);
            }
            """);
        var found = violations.EnumerateArray().Select(v => v.GetString()).ToList();
        Assert.True(found.Count == 0, $"axe-core found serious accessibility violations on {what}:\n" + string.Join("\n", found));
    }

    /// <summary>
    /// Saves a screenshot under RUNCMD_PORTAL_SCREENSHOTS (docs/portal to refresh the committed ones), else under
    /// artifacts/portal-screenshots, so a test run never changes tracked files.
    /// </summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var dir = Environment.GetEnvironmentVariable("RUNCMD_PORTAL_SCREENSHOTS") is { Length: > 0 } configured
            ? Path.GetFullPath(configured, Repo.Root)
            : Path.Combine(Repo.Root, "artifacts", "portal-screenshots");
        Directory.CreateDirectory(dir);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, name + ".png"), FullPage = true });
    }
}
