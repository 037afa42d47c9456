using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RunCommand.Contracts.Agents;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>One server for the validation tests, with VM "vm1" enrolled in resource group "rg".</summary>
public sealed class ApiServerFixture : IAsyncLifetime
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("rc-api-").FullName;

    public ServerProcess Server { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await ServerProcess.StartAsync(Path.Combine(Dir, "server"));
        Http = Server.CreateHttpClient();
        using var enroll = Server.CreateHttpClient(File.ReadAllText(Server.EnrollTokenFile).Trim());
        var response = await enroll.PostAsJsonAsync("/agent/v1/enroll", new EnrollRequest { ResourceGroup = "rg", VmName = "vm1" });
        response.EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }
}

/// <summary>Bad input of every kind gets a 4xx with an ARM error body naming the field; never a 5xx.</summary>
public sealed class ApiValidationTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly string _dir = fixture.Dir;
    private readonly ServerProcess _server = fixture.Server;
    private readonly HttpClient _http = fixture.Http;

    private string CommandUrl(string name = "cmd", string vm = "vm1", string? subscription = null, string apiVersion = "api-version=2023-07-01") =>
        $"/subscriptions/{subscription ?? _server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{vm}/runCommands/{name}?{apiVersion}";

    private async Task<(HttpStatusCode Status, JsonElement Error)> SendAsync(HttpMethod method, string url, string? body, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await (client ?? _http).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"Expected a 4xx, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return (response.StatusCode, document.RootElement.GetProperty("error").Clone());
    }

    private static void AssertNames(JsonElement error, string field)
    {
        var text = error.ToString();
        Assert.True(text.Contains(field, StringComparison.Ordinal), $"The error does not name '{field}': {text}");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("code").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { """{"properties":{"source":{"script":"x"}}}""", "location" },
        { """{"location":"local","properties":{"source":{"script":"x","scriptUri":"https://h/s.sh"}}}""", "properties.source" },
        { """{"location":"local","properties":{"source":{}}}""", "properties.source" },
        { """{"location":"local","properties":{}}""", "properties.source" },
        { """{"location":"local","properties":{"source":{"script":"x"},"timeoutInSeconds":-5}}""", "properties.timeoutInSeconds" },
        { """{"location":"local","properties":{"source":{"script":"x"},"timeoutInSeconds":"ten"}}""", "properties.timeoutInSeconds" },
        { """{"location":"local","properties":{"source":{"script":"x"},"asyncExecution":"yes"}}""", "properties.asyncExecution" },
        { """{"location":"local","properties":{"source":{"script":42}}}""", "properties.source.script" },
        { """{"location":"local","properties":{"source":{"script":"x"},"parameters":"a=b"}}""", "properties.parameters" },
        { """{"location":"elsewhere","properties":{"source":{"script":"x"}}}""", "location" },
        { """{"location":"local","properties":{"source":{"script":"x"}}""", "line" },
        { """not json""", "line" },
        { """[]""", "JSON object" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Put_BadBody_Answers400NamingTheField(string body, string field)
    {
        var (status, error) = await SendAsync(HttpMethod.Put, CommandUrl(), body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertNames(error, field);
    }

    [Fact]
    public async Task Put_WrongLocation_Answers400WithTheVmsLocationAndStoresNothing()
    {
        // A valid PUT checks the VM's location inside its write (no read before it): the answer is the same as before.
        var (status, error) = await SendAsync(HttpMethod.Put, CommandUrl(name: "elsewhere-cmd"), """{"location":"West US","properties":{"source":{"script":"x"}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("location", error.GetProperty("target").GetString());
        Assert.Equal("The location 'West US' does not match the location of virtual machine 'vm1' ('local').", error.GetProperty("message").GetString());
        using var get = await _http.GetAsync(CommandUrl(name: "elsewhere-cmd"));
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Theory]
    [InlineData("""{"location":"West US","properties":{"source":{"script":"x"}}}""")]
    [InlineData("""{"location":"West US","properties":{"source":{}}}""")]
    [InlineData("""{"location":"local","properties":{"source":{"commandId":"NoSuchDocument"}}}""")]
    public async Task Put_MissingVm_Answers404BeforeAnyOtherError(string body)
    {
        var (status, error) = await SendAsync(HttpMethod.Put, CommandUrl(vm: "no-such-vm"), body);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Put_SeveralBadFields_ReturnsAllErrorsAtOnce()
    {
        var (_, error) = await SendAsync(HttpMethod.Put, CommandUrl(), """{"properties":{"source":{},"timeoutInSeconds":-1}}""");

        var targets = error.GetProperty("details").EnumerateArray().Select(d => d.GetProperty("target").GetString()).ToList();
        Assert.Equal(["location", "properties.source", "properties.timeoutInSeconds"], targets);
    }

    [Theory]
    [InlineData("", "api-version")]
    [InlineData("api-version=", "api-version")]
    [InlineData("api-version=2018-01-01", "api-version")]
    [InlineData("api-version=2099-01-01", "api-version")]
    [InlineData("api-version=latest", "api-version")]
    public async Task Put_BadApiVersion_Answers400(string query, string field)
    {
        var (status, error) = await SendAsync(HttpMethod.Put, CommandUrl(apiVersion: query), """{"location":"local","properties":{"source":{"script":"x"}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertNames(error, field);
        Assert.Contains(error.GetProperty("code").GetString(), new[] { "MissingApiVersionParameter", "InvalidApiVersionParameter" });
    }

    [Theory]
    [InlineData("bad name", "runCommandName")]
    [InlineData("-dash", "runCommandName")]
    [InlineData("dot.", "runCommandName")]
    public async Task Put_IllegalName_Answers400(string name, string field)
    {
        var (status, error) = await SendAsync(HttpMethod.Put, CommandUrl(name: Uri.EscapeDataString(name)), """{"location":"local","properties":{"source":{"script":"x"}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertNames(error, field);
    }

    [Fact]
    public async Task Put_OverLongName_Answers400()
    {
        var (status, error) = await SendAsync(HttpMethod.Put, CommandUrl(name: new string('a', 81)), """{"location":"local","properties":{"source":{"script":"x"}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertNames(error, "runCommandName");
    }

    [Fact]
    public async Task Put_UnknownVm_Answers404NamingTheVm()
    {
        var (status, error) = await SendAsync(HttpMethod.Put, CommandUrl(vm: "ghost"), """{"location":"local","properties":{"source":{"script":"x"}}}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertNames(error, "ghost");
    }

    [Fact]
    public async Task Put_NonGuidSubscription_Answers400()
    {
        var (status, error) = await SendAsync(HttpMethod.Put, CommandUrl(subscription: "my-sub"), """{"location":"local","properties":{"source":{"script":"x"}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertNames(error, "subscription");
    }

    [Fact]
    public async Task Put_UnknownGuidSubscription_Answers404()
    {
        var (status, error) = await SendAsync(HttpMethod.Get, CommandUrl(subscription: Guid.NewGuid().ToString()), null);

        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertNames(error, "subscription");
    }

    [Fact]
    public async Task Get_MissingToken_Answers401()
    {
        using var anonymous = _server.CreateHttpClient(token: null);

        var (status, error) = await SendAsync(HttpMethod.Get, CommandUrl(), null, anonymous);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        AssertNames(error, "Authorization");
    }

    [Theory]
    [InlineData("wrong-token")]
    [InlineData("rca_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Get_WrongToken_Answers401(string token)
    {
        using var intruder = _server.CreateHttpClient(token);

        var (status, error) = await SendAsync(HttpMethod.Get, CommandUrl(), null, intruder);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Get_EnrollmentTokenOnTheArmApi_Answers401()
    {
        using var agentish = _server.CreateHttpClient(File.ReadAllText(_server.EnrollTokenFile).Trim());

        var (status, _) = await SendAsync(HttpMethod.Get, CommandUrl(), null, agentish);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Get_Missing_Answers404ResourceNotFound()
    {
        var (status, error) = await SendAsync(HttpMethod.Get, CommandUrl(name: "nothing-here"), null);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", error.GetProperty("code").GetString());
        AssertNames(error, "nothing-here");
    }

    [Fact]
    public async Task Put_OverTheLimit_Answers409()
    {
        await using var limited = await ServerProcess.StartAsync(Path.Combine(_dir, "limited-" + Guid.NewGuid().ToString("N")), extraArgs: ["--max-run-commands-per-vm", "2"]);
        using var http = limited.CreateHttpClient();
        using var enroll = limited.CreateHttpClient(File.ReadAllText(limited.EnrollTokenFile).Trim());
        (await enroll.PostAsJsonAsync("/agent/v1/enroll", new EnrollRequest { ResourceGroup = "rg", VmName = "vm1" })).EnsureSuccessStatusCode();
        string Url(string name) => $"/subscriptions/{limited.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/{name}?api-version=2023-07-01";
        const string body = """{"location":"local","properties":{"source":{"script":"true"}}}""";
        foreach (var name in new[] { "a", "b" })
        {
            (await http.PutAsync(Url(name), new StringContent(body, Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        }

        var (status, error) = await SendAsync(HttpMethod.Put, Url("c"), body, http);

        Assert.Equal(HttpStatusCode.Conflict, status);
        AssertNames(error, "maximum of 2");
    }

    [Fact]
    public async Task List_Paged_NextLinkCarriesApiVersionAndExpandAndCoversEveryItem()
    {
        using var enroll = _server.CreateHttpClient(File.ReadAllText(_server.EnrollTokenFile).Trim());
        (await enroll.PostAsJsonAsync("/agent/v1/enroll", new EnrollRequest { ResourceGroup = "rg", VmName = "paged" })).EnsureSuccessStatusCode();
        foreach (var name in new[] { "c", "a", "b" })
        {
            using var put = await _http.PutAsync(CommandUrl(name, vm: "paged"), new StringContent("""{"location":"local","properties":{"source":{"script":"true"}}}""", Encoding.UTF8, "application/json"));
            put.EnsureSuccessStatusCode();
        }

        var listUrl = $"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/paged/runCommands?api-version=2023-07-01&$expand=instanceView&$top=2";
        var names = new List<string>();
        var pages = 0;
        for (var url = listUrl; url is not null; pages++)
        {
            using var page = JsonDocument.Parse(await _http.GetStringAsync(url));
            foreach (var item in page.RootElement.GetProperty("value").EnumerateArray())
            {
                names.Add(item.GetProperty("name").GetString()!);
                Assert.True(item.GetProperty("properties").TryGetProperty("instanceView", out _), "$expand was lost on a later page");
            }

            url = page.RootElement.TryGetProperty("nextLink", out var next) ? next.GetString() : null;
            if (url is not null)
            {
                Assert.StartsWith(_server.Url, url, StringComparison.Ordinal);
                Assert.Contains("api-version=2023-07-01", url, StringComparison.Ordinal);
                Assert.Contains("instanceView", url, StringComparison.Ordinal);
            }
        }

        Assert.Equal(["a", "b", "c"], names);
        Assert.Equal(2, pages);
    }

    [Fact]
    public async Task Delete_Missing_Answers204()
    {
        using var response = await _http.DeleteAsync(CommandUrl(name: "never-existed"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Delete_OnAMachineThatDoesNotExist_Answers404LikeAGet()
    {
        var (status, error) = await SendAsync(HttpMethod.Delete, CommandUrl(name: "never-existed", vm: "no-such-vm"), null);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", error.GetProperty("code").GetString());
        AssertNames(error, "no-such-vm");
    }
}
