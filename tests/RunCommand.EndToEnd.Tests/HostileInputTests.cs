using System.Net;
using System.Text;
using System.Text.Json;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Requests built to exhaust the server (issue 12): each is a 400 ARM error naming the limit, and the real server
/// process is still up and answering afterwards.
/// </summary>
public sealed class HostileInputTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly ServerProcess _server = fixture.Server;
    private readonly HttpClient _http = fixture.Http;

    private string DeploymentUrl(string name) =>
        $"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Resources/deployments/{name}?api-version=2021-04-01";

    private static string Deployment(string resourceName) =>
        """{"properties":{"mode":"Incremental","template":{"resources":[{"type":"Microsoft.Compute/virtualMachines/runCommands","apiVersion":"2023-07-01","location":"local","name":"""
        + JsonSerializer.Serialize(resourceName) + ""","properties":{"source":{"script":"true"}}}]}}}""";

    private static string Nested(int depth) =>
        "[" + string.Concat(Enumerable.Repeat("concat(", depth)) + "'vm1/x'" + new string(')', depth) + "]";

    private async Task<JsonElement> Expect400Async(HttpMethod method, string url, string body)
    {
        using var request = new HttpRequestMessage(method, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"Expected 400, got {(int)response.StatusCode}: {text[..Math.Min(text.Length, 500)]}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("error").Clone();
    }

    private async Task AssertServerUpAsync()
    {
        Assert.False(_server.Process.HasExited, "The server process died:\n" + _server.Process.Output);
        using var health = await _http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task PutDeployment_ExpressionNested100000Deep_Answers400AndTheServerStaysUp()
    {
        var body = Deployment(Nested(100_000));
        Assert.True(body.Length > 700_000, "the request of issue 12 is about 800 KB");

        var error = await Expect400Async(HttpMethod.Put, DeploymentUrl("deep"), body);

        Assert.Equal("InvalidTemplate", error.GetProperty("code").GetString());
        Assert.Contains("24,576", error.ToString(), StringComparison.Ordinal);
        await AssertServerUpAsync();
    }

    [Fact]
    public async Task PutDeployment_ExpressionDeeperThanTheLimitWithinTheLength_Answers400NamingTheDepth()
    {
        var error = await Expect400Async(HttpMethod.Put, DeploymentUrl("deep2"), Deployment(Nested(3_000)));

        Assert.Contains("deeper than 64 levels", error.ToString(), StringComparison.Ordinal);
        await AssertServerUpAsync();
    }

    [Theory]
    [InlineData("/agent/v1/enroll")]
    [InlineData("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/deepjson?api-version=2023-07-01")]
    public async Task Put_JsonNested100000Deep_Answers400AndTheServerStaysUp(string path)
    {
        var body = """{"location":"local","properties":""" + new string('[', 100_000) + new string(']', 100_000) + "}";
        using var request = new HttpRequestMessage(path.StartsWith("/agent", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Put, path.Replace("{sub}", _server.SubscriptionId, StringComparison.Ordinal))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        using var agentish = _server.CreateHttpClient(File.ReadAllText(_server.EnrollTokenFile).Trim());
        using var response = await (path.StartsWith("/agent", StringComparison.Ordinal) ? agentish : _http).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("InvalidRequestContent", text, StringComparison.Ordinal);
        Assert.Contains("depth", text, StringComparison.OrdinalIgnoreCase);
        await AssertServerUpAsync();
    }

    [Fact]
    public async Task PutRunCommand_TooManyTags_Answers400NamingTheLimit()
    {
        var tags = string.Join(",", Enumerable.Range(0, 51).Select(i => $"\"t{i}\":\"v\""));
        var url = $"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/tags?api-version=2023-07-01";

        var error = await Expect400Async(HttpMethod.Put, url, "{\"location\":\"local\",\"tags\":{" + tags + "},\"properties\":{\"source\":{\"script\":\"true\"}}}");

        Assert.Contains("the limit is 50", error.ToString(), StringComparison.Ordinal);
    }
}
