using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// What a body's bytes and its declared type may be (never a 500, never .NET's internals in a message), the operation
/// URL's api-version, and an operation polled after its run command was deleted; against the real server process.
/// </summary>
public sealed class RequestContentTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly ServerProcess _server = fixture.Server;
    private readonly HttpClient _http = fixture.Http;

    private string Vm => $"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, byte[]? body, string? contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = contentType is null ? null : MediaTypeHeaderValue.Parse(contentType);
        }

        var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode < 500, $"Got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        return (response.StatusCode, document.RootElement.Clone(), response);
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A body with one byte that is not UTF-8 (0xFF) where <c>@</c> stands.</summary>
    private static byte[] WithInvalidByte(string json)
    {
        var bytes = Utf8(json);
        bytes[Array.IndexOf(bytes, (byte)'@')] = 0xFF;
        return bytes;
    }

    public static TheoryData<string, string, string, string> NotUnicode => new()
    {
        // The method, the path under the VM (or "deployment"), the body, and the field the error must name.
        { "PUT", "/runCommands/bad-text?api-version=2023-07-01", """{"location":"local","properties":{"source":{"script":"echo @"}}}""", "properties.source.script" },
        { "PUT", "/runCommands/bad-text?api-version=2023-07-01", """{"location":"local","tags":{"t@":"v"},"properties":{"source":{"script":"true"}}}""", "tags" },
        { "POST", "/runCommand?api-version=2023-07-01", """{"commandId":"RunShellScript","script":["true","echo @"]}""", "script[1]" },
        { "PUT", "deployment", """{"properties":{"mode":"Incremental","template":{"resources":[{"type":"Microsoft.Compute/virtualMachines/runCommands","apiVersion":"2023-07-01","location":"local","name":"vm1/x@","properties":{"source":{"script":"true"}}}]}}}""", "properties.template.resources[0].name" },
        // A body read straight into a wire type (System.Text.Json's serializer): its own error, still a 400.
        { "PATCH", "?api-version=2023-07-01", """{"tags":{"a":"@"}}""", "tags.a" },
    };

    [Theory]
    [MemberData(nameof(NotUnicode))]
    public async Task Body_StringNotValidUtf8_Answers400NamingTheField(string method, string path, string json, string field)
    {
        var url = path == "deployment"
            ? $"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Resources/deployments/bad-text?api-version=2021-04-01"
            : Vm + path;

        var (status, body, _) = await SendAsync(new HttpMethod(method), url, WithInvalidByte(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = body.GetProperty("error");
        Assert.Equal("InvalidRequestContent", error.GetProperty("code").GetString());
        Assert.Equal(field, error.GetProperty("target").GetString());
        Assert.DoesNotContain("System.", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Body_EscapedSurrogateWithoutItsPair_Answers400()
    {
        var (status, body, _) = await SendAsync(HttpMethod.Put, Vm + "/runCommands/bad-text?api-version=2023-07-01",
            Utf8("""{"location":"local","properties":{"source":{"script":"echo \ud800"}}}"""));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("properties.source.script", body.GetProperty("error").GetProperty("target").GetString());
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task Body_DeclaredAsAnotherMediaType_Answers415AndRunsNothing(string contentType)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Put, Vm + "/runCommands/typed?api-version=2023-07-01",
            Utf8("""{"location":"local","properties":{"source":{"script":"true"}}}"""), contentType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("UnsupportedMediaType", body.GetProperty("error").GetProperty("code").GetString());
        var (missing, _, _) = await SendAsync(HttpMethod.Get, Vm + "/runCommands/typed?api-version=2023-07-01", null);
        Assert.Equal(HttpStatusCode.NotFound, missing);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("text/json")]
    [InlineData("application/merge-patch+json")]
    public async Task Body_JsonOrUndeclared_IsRead(string? contentType)
    {
        var name = "typed-" + Guid.NewGuid().ToString("N")[..8];
        var (status, _, response) = await SendAsync(HttpMethod.Put, Vm + $"/runCommands/{name}?api-version=2023-07-01",
            Utf8("""{"location":"local","properties":{"source":{"script":"true"}}}"""), contentType);
        response.Dispose();

        Assert.Equal(HttpStatusCode.Created, status);
    }

    [Theory]
    [InlineData("/subscriptions/{sub}/providers/Microsoft.Compute/locations/local/runCommands/typed-doc?api-version=2023-07-01", """{"script":"notarray"}""", "script")]
    [InlineData("/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2023-07-01", """{"tags":"bad"}""", "tags")]
    public async Task Body_ValueOfTheWrongType_NamesTheFieldNotADotNetType(string path, string json, string field)
    {
        var url = path.Replace("{sub}", _server.SubscriptionId, StringComparison.Ordinal)
            .Replace("/providers/Microsoft.Compute/virtualMachines/", "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/", StringComparison.Ordinal);
        var method = url.Contains("/virtualMachines/vm1?", StringComparison.Ordinal) ? HttpMethod.Patch : HttpMethod.Put;

        var (status, body, _) = await SendAsync(method, url, Utf8(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var message = body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains($"'{field}'", message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", message, StringComparison.Ordinal);
        Assert.DoesNotContain("RunCommand.", message, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2015-01-01")]
    [InlineData("2099-01-01")]
    public async Task Operation_ApiVersionOutsideTheComputeRange_Answers400(string apiVersion)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get,
            $"/subscriptions/{_server.SubscriptionId}/providers/Microsoft.Compute/locations/local/operations/{Guid.NewGuid()}?api-version={apiVersion}", null);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidApiVersionParameter", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Operation_PolledAfterItsRunCommandWasDeleted_AnswersCanceledNotNotFound()
    {
        // vm1 has no agent: the run stays Pending, and a delete cancels and removes it at once.
        var name = "deleted-" + Guid.NewGuid().ToString("N")[..8];
        var (created, _, put) = await SendAsync(HttpMethod.Put, Vm + $"/runCommands/{name}?api-version=2023-07-01",
            Utf8("""{"location":"local","properties":{"source":{"script":"sleep 300"}}}"""));
        var operation = put.Headers.GetValues("Azure-AsyncOperation").Single();
        put.Dispose();
        Assert.Equal(HttpStatusCode.Created, created);
        var (running, _, _) = await SendAsync(HttpMethod.Get, operation, null);
        Assert.Equal(HttpStatusCode.OK, running);

        var (deleted, _, _) = await SendAsync(HttpMethod.Delete, Vm + $"/runCommands/{name}?api-version=2023-07-01", null);
        var (polled, body, _) = await SendAsync(HttpMethod.Get, operation, null);

        Assert.Equal(HttpStatusCode.Accepted, deleted);
        Assert.Equal(HttpStatusCode.OK, polled);
        Assert.Equal("Canceled", body.GetProperty("status").GetString());
        Assert.Contains("deleted", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"properties":{"template":{"resources":[]}}}""")]
    [InlineData("""{"properties":{"mode":5,"template":{"resources":[]}}}""")]
    public async Task Deployment_WithoutAStringMode_Answers400NamingIt(string json)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Put,
            $"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Resources/deployments/no-mode?api-version=2021-04-01", Utf8(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("properties.mode", body.GetProperty("error").ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("foo")]
    [InlineData("userData")]
    public async Task Get_ExpandOtherThanInstanceView_Answers400(string expand)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, Vm + $"/runCommands?api-version=2023-07-01&$expand={expand}", null);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("$expand", body.GetProperty("error").GetProperty("target").GetString());
    }

    [Fact]
    public async Task Operation_IdInUpperCase_IsTheSameOperation()
    {
        var name = "upper-" + Guid.NewGuid().ToString("N")[..8];
        var (_, _, put) = await SendAsync(HttpMethod.Put, Vm + $"/runCommands/{name}?api-version=2023-07-01",
            Utf8("""{"location":"local","properties":{"source":{"script":"true"}}}"""));
        var operation = new Uri(put.Headers.GetValues("Azure-AsyncOperation").Single());
        put.Dispose();
        var id = operation.AbsolutePath[(operation.AbsolutePath.LastIndexOf('/') + 1)..];

        var (status, body, _) = await SendAsync(HttpMethod.Get, operation.PathAndQuery.Replace(id, id.ToUpperInvariant(), StringComparison.Ordinal), null);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(id, body.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Deployment_Delete_AnswersWhatTheRestSpecificationLists()
    {
        // Deployments - Delete is a long-running operation with 202 and 204 (generated clients refuse a 200).
        var url = $"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Resources/deployments/to-delete?api-version=2021-04-01";
        var (created, _, _) = await SendAsync(HttpMethod.Put, url, Utf8("""{"properties":{"mode":"Incremental","template":{"resources":[]}}}"""));
        Assert.True(created is HttpStatusCode.Created or HttpStatusCode.OK, created.ToString());

        var (deleted, _, _) = await SendAsync(HttpMethod.Delete, url, null);
        var (again, _, _) = await SendAsync(HttpMethod.Delete, url, null);

        Assert.Equal(HttpStatusCode.Accepted, deleted);
        Assert.Equal(HttpStatusCode.NoContent, again);
    }
}
