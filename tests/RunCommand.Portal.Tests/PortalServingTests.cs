using System.Net;
using System.Text.Json;
using RunCommand.Testing;

namespace RunCommand.Portal.Tests;

/// <summary>One server without a browser, for the HTTP side of the portal.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public Stack Stack { get; private set; } = null!;

    public async Task InitializeAsync() => Stack = await Stack.StartAsync("portal-http");

    public async Task DisposeAsync() => await Stack.DisposeAsync();
}

/// <summary>
/// How the server serves the portal's files, and the permission answers the portal relies on to hide what would
/// earn a 403 (ARM's <c>permissions</c> API and the signed-in principal).
/// </summary>
public sealed class PortalServingTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly Stack _stack = fixture.Stack;

    private HttpClient Anonymous() => _stack.Server.CreateHttpClient(token: null);

    [Fact]
    public async Task Root_WithoutToken_RedirectsToThePortal()
    {
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(_stack.Server.Url) };
        var root = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/portal/", root.Headers.Location?.OriginalString);
        var bare = await http.GetAsync("/portal");
        Assert.Equal("/portal/", bare.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Portal_Index_IsServedWithoutTokenUnderAStrictContentSecurityPolicy()
    {
        using var http = Anonymous();
        var index = await http.GetAsync("/portal/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        var html = await index.Content.ReadAsStringAsync();
        Assert.Contains("<div id=\"root\"></div>", html, StringComparison.Ordinal);
        var csp = string.Join(";", index.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);

        // The hashed script the page loads is served too, cacheable for good.
        var script = System.Text.RegularExpressions.Regex.Match(html, "src=\"(/portal/assets/[^\"]+\\.js)\"").Groups[1].Value;
        var asset = await http.GetAsync(script);
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Contains("immutable", asset.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_UnderThePortalsOrigin_StillNeedsAToken()
    {
        using var http = Anonymous();
        var response = await http.GetAsync($"/subscriptions/{_stack.Server.SubscriptionId}/providers/Microsoft.Compute/virtualMachines?api-version=2023-07-01");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Portal_FilesMissing_AnswersAPageSayingItIsNotBuilt_AndTheApiStillWorks()
    {
        var dir = Path.Combine(_stack.Dir, "unbuilt");
        await using var server = await ServerProcess.StartAsync(Path.Combine(_stack.Dir, "server-unbuilt"), extraArgs: ["--portal-dir", Path.Combine(dir, "nothing-here")]);
        using var http = server.CreateHttpClient(token: null);
        var page = await http.GetAsync("/portal/");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("The RunCommand portal is not built", html, StringComparison.Ordinal);
        Assert.Contains("npm", html, StringComparison.Ordinal);

        using var admin = server.CreateHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/subscriptions?api-version=2022-12-01")).StatusCode);
    }

    [Fact]
    public async Task Permissions_Reader_ReadsButMayNotWrite_AndSignedInPrincipalNamesTheRole()
    {
        var name = $"perm-{Guid.NewGuid():N}"[..13];
        await _stack.Client.CreatePrincipalAsync(name, "User", "Permission Tester");
        var token = (await _stack.Client.CreateTokenAsync(name, null, null)).Token!;
        var rgScope = $"/subscriptions/{_stack.Server.SubscriptionId}/resourceGroups/web";
        await _stack.Client.CreateRoleAssignmentAsync(rgScope, name, "Reader");
        using var reader = _stack.Server.CreateHttpClient(token);

        using var atRg = JsonDocument.Parse(await reader.GetStringAsync($"{rgScope}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"));
        var entry = Assert.Single(atRg.RootElement.GetProperty("value").EnumerateArray());
        Assert.Equal(["*/read"], entry.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));

        // Held at the resource group: inherited by a VM below it, absent at the subscription above it.
        using var atVm = JsonDocument.Parse(await reader.GetStringAsync($"{rgScope}/providers/Microsoft.Compute/virtualMachines/web1/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"));
        Assert.Single(atVm.RootElement.GetProperty("value").EnumerateArray());
        using var atSub = JsonDocument.Parse(await reader.GetStringAsync($"/subscriptions/{_stack.Server.SubscriptionId}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"));
        Assert.Empty(atSub.RootElement.GetProperty("value").EnumerateArray());

        using var me = JsonDocument.Parse(await reader.GetStringAsync("/providers/Microsoft.Authorization/signedInPrincipal?api-version=2022-04-01"));
        Assert.Equal(name, me.RootElement.GetProperty("name").GetString());
        Assert.Equal("Permission Tester", me.RootElement.GetProperty("displayName").GetString());
        var role = Assert.Single(me.RootElement.GetProperty("roles").EnumerateArray());
        Assert.Equal("Reader", role.GetProperty("roleName").GetString());
        Assert.Equal(rgScope, role.GetProperty("scope").GetString());
    }

    [Fact]
    public async Task Permissions_Admin_HoldsEverything_AndAWrongTokenIs401()
    {
        using var admin = _stack.Server.CreateHttpClient();
        using var doc = JsonDocument.Parse(await admin.GetStringAsync($"/subscriptions/{_stack.Server.SubscriptionId}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"));
        var entry = Assert.Single(doc.RootElement.GetProperty("value").EnumerateArray());
        Assert.Equal(["*"], entry.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));

        using var wrong = _stack.Server.CreateHttpClient("rcu_wrong");
        var response = await wrong.GetAsync("/providers/Microsoft.Authorization/signedInPrincipal?api-version=2022-04-01");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);

        using var noVersion = JsonDocument.Parse(await (await admin.GetAsync("/providers/Microsoft.Authorization/signedInPrincipal")).Content.ReadAsStringAsync());
        Assert.Equal("MissingApiVersionParameter", noVersion.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ScaleSets_List_NamesEachScaleSetWithItsInstanceCount()
    {
        var scaleSet = $"pss-{Guid.NewGuid():N}"[..12];
        await _stack.StartScaleSetAgentAsync(scaleSet, Path.Combine(_stack.Dir, "agents", scaleSet + "-0"));
        using var admin = _stack.Server.CreateHttpClient();
        foreach (var path in new[] { "", "/resourceGroups/e2e" })
        {
            using var doc = JsonDocument.Parse(await admin.GetStringAsync($"/subscriptions/{_stack.Server.SubscriptionId}{path}/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2023-07-01"));
            var found = doc.RootElement.GetProperty("value").EnumerateArray().Single(s => s.GetProperty("name").GetString() == scaleSet);
            Assert.Equal($"/subscriptions/{_stack.Server.SubscriptionId}/resourceGroups/e2e/providers/Microsoft.Compute/virtualMachineScaleSets/{scaleSet}", found.GetProperty("id").GetString());
            Assert.Equal(1, found.GetProperty("properties").GetProperty("instanceCount").GetInt32());
        }

        // A principal with a role elsewhere sees no scale set of e2e.
        var name = $"ssr-{Guid.NewGuid():N}"[..12];
        await _stack.Client.CreatePrincipalAsync(name, "User", null);
        var token = (await _stack.Client.CreateTokenAsync(name, null, null)).Token!;
        await _stack.Client.CreateRoleAssignmentAsync($"/subscriptions/{_stack.Server.SubscriptionId}/resourceGroups/other", name, "Reader");
        using var other = _stack.Server.CreateHttpClient(token);
        using var none = JsonDocument.Parse(await other.GetStringAsync($"/subscriptions/{_stack.Server.SubscriptionId}/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2023-07-01"));
        Assert.Empty(none.RootElement.GetProperty("value").EnumerateArray());
    }
}
