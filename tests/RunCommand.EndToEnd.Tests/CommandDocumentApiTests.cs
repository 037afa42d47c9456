using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// A real server (https, so the Azure SDK accepts it) with a real agent serving VM "docs-vm".
/// </summary>
public sealed class DocumentServerFixture : IAsyncLifetime
{
    public const string ResourceGroup = "docs-rg";
    public const string VmName = "docs-vm";

    public string Dir { get; } = Directory.CreateTempSubdirectory("rc-docs-").FullName;

    public ServerProcess Server { get; private set; } = null!;

    public AgentProcess Agent { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await ServerProcess.StartAsync(Path.Combine(Dir, "server"), https: true);
        Http = Server.CreateHttpClient();
        Agent = await AgentProcess.StartAsync(Server, VmName, ResourceGroup, Path.Combine(Dir, "agent"));
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Agent.DisposeAsync();
        await Server.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>Follows an <c>Azure-AsyncOperation</c> URL until the operation is no longer InProgress.</summary>
    public async Task<JsonElement> WaitForOperationAsync(string operationUrl)
    {
        while (true)
        {
            var operation = JsonDocument.Parse(await Http.GetStringAsync(operationUrl + "&waitSeconds=30")).RootElement.Clone();
            if (operation.GetProperty("status").GetString() != "InProgress")
            {
                return operation;
            }
        }
    }
}

/// <summary>The command documents API: built-ins, custom CRUD, and commandId resolution in a managed PUT.</summary>
public sealed class CommandDocumentApiTests(DocumentServerFixture fixture) : IClassFixture<DocumentServerFixture>
{
    private const string Api = "api-version=2023-07-01";
    private readonly ServerProcess _server = fixture.Server;
    private readonly HttpClient _http = fixture.Http;

    private string DocumentsUrl(string? commandId = null, string location = "local") =>
        $"/subscriptions/{_server.SubscriptionId}/providers/Microsoft.Compute/locations/{location}/runCommands{(commandId is null ? "" : "/" + commandId)}?{Api}";

    private string CommandUrl(string name) =>
        $"/subscriptions/{_server.SubscriptionId}/resourceGroups/{DocumentServerFixture.ResourceGroup}/providers/Microsoft.Compute/virtualMachines/{DocumentServerFixture.VmName}/runCommands/{name}?{Api}";

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string url, string? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text.Length == 0 ? "null" : text);
        return (response.StatusCode, document.RootElement.Clone());
    }

    private static string ErrorText(JsonElement body) => body.GetProperty("error").ToString();

    [Fact]
    public async Task List_Always_IncludesBuiltInsAsBaseEntries()
    {
        var (status, body) = await SendAsync(HttpMethod.Get, DocumentsUrl());

        Assert.Equal(HttpStatusCode.OK, status);
        var entries = body.GetProperty("value").EnumerateArray().ToList();
        var shell = Assert.Single(entries, e => e.GetProperty("id").GetString() == "RunShellScript");
        Assert.Single(entries, e => e.GetProperty("id").GetString() == "ifconfig");
        Assert.Equal("Linux", shell.GetProperty("osType").GetString());
        Assert.True(shell.TryGetProperty("$schema", out _));
        Assert.True(shell.TryGetProperty("label", out _));
        Assert.False(shell.TryGetProperty("script", out _));
    }

    [Fact]
    public async Task Get_Ifconfig_ReturnsFullDocumentWithArgumentsParameter()
    {
        var (status, body) = await SendAsync(HttpMethod.Get, DocumentsUrl("ifconfig"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotEmpty(body.GetProperty("script").EnumerateArray());
        var parameter = Assert.Single(body.GetProperty("parameters").EnumerateArray().ToList());
        Assert.Equal("arguments", parameter.GetProperty("name").GetString());
        Assert.Equal("string", parameter.GetProperty("type").GetString());
        Assert.False(parameter.GetProperty("required").GetBoolean());
    }

    [Fact]
    public async Task Get_Unknown_Answers404ResourceNotFound()
    {
        var (status, body) = await SendAsync(HttpMethod.Get, DocumentsUrl("no-such-doc"));

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task WriteBuiltIn_Always_Answers409(string method)
    {
        var (status, body) = await SendAsync(new HttpMethod(method), DocumentsUrl("RunShellScript"), method == "PUT" ? """{"script":["echo"]}""" : null);

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("built-in", ErrorText(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CustomDocument_PutGetListDelete_RoundTrips()
    {
        const string id = "crud-doc";
        var document = """{"label":"Greet","description":"Says hello","script":["echo hello $who"],"parameters":[{"name":"who","type":"string","defaultValue":"world"}]}""";

        var (created, _) = await SendAsync(HttpMethod.Put, DocumentsUrl(id), document);
        var (replaced, _) = await SendAsync(HttpMethod.Put, DocumentsUrl(id), document.Replace("Greet", "Greeting", StringComparison.Ordinal));
        var (got, body) = await SendAsync(HttpMethod.Get, DocumentsUrl(id));
        var (_, list) = await SendAsync(HttpMethod.Get, DocumentsUrl());
        var (deleted, _) = await SendAsync(HttpMethod.Delete, DocumentsUrl(id));
        var (gone, _) = await SendAsync(HttpMethod.Get, DocumentsUrl(id));
        var (deletedAgain, _) = await SendAsync(HttpMethod.Delete, DocumentsUrl(id));

        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal(HttpStatusCode.OK, replaced);
        Assert.Equal(HttpStatusCode.OK, got);
        Assert.Equal("Greeting", body.GetProperty("label").GetString());
        Assert.Equal(id, body.GetProperty("id").GetString());
        Assert.Equal("world", body.GetProperty("parameters")[0].GetProperty("defaultValue").GetString());
        Assert.Contains(list.GetProperty("value").EnumerateArray(), e => e.GetProperty("id").GetString() == id);
        Assert.Equal(HttpStatusCode.OK, deleted);
        Assert.Equal(HttpStatusCode.NotFound, gone);
        Assert.Equal(HttpStatusCode.NoContent, deletedAgain);
    }

    [Fact]
    public async Task PutDocument_BadParameterDefinition_Answers400NamingIt()
    {
        var (status, body) = await SendAsync(HttpMethod.Put, DocumentsUrl("bad-doc"), """{"script":["true"],"parameters":[{"name":"n","type":"float"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("parameters[0].type", ErrorText(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_OtherLocation_Answers404()
    {
        var (status, _) = await SendAsync(HttpMethod.Get, DocumentsUrl(location: "mars"));

        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    private async Task PutIntDocumentAsync(string id) =>
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Put, DocumentsUrl(id),
            """{"script":["echo \"$count x $mode\""],"parameters":[{"name":"count","type":"int","required":true},{"name":"mode","type":"string","defaultValue":"fast","allowedValues":["fast","slow"]}]}""")).Status);

    [Theory]
    [InlineData("""[]""", "count")]
    [InlineData("""[{"name":"count","value":"many"}]""", "properties.parameters[0]")]
    [InlineData("""[{"name":"count","value":"1"},{"name":"mode","value":"warp"}]""", "properties.parameters[1]")]
    [InlineData("""[{"name":"count","value":"1"},{"name":"colour","value":"red"}]""", "colour")]
    public async Task PutRunCommand_BadDocumentParameters_Answers400NamingTheParameter(string parameters, string named)
    {
        var id = "int-doc-" + Guid.NewGuid().ToString("N")[..8];
        await PutIntDocumentAsync(id);

        var (status, body) = await SendAsync(HttpMethod.Put, CommandUrl("bad-params"),
            $$$"""{"location":"local","properties":{"source":{"commandId":"{{{id}}}"},"parameters":{{{parameters}}}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains(named, ErrorText(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutRunCommand_UnknownCommandId_Answers400NamingSourceCommandId()
    {
        var (status, body) = await SendAsync(HttpMethod.Put, CommandUrl("unknown-doc"),
            """{"location":"local","properties":{"source":{"commandId":"no-such-doc"}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("properties.source.commandId", body.GetProperty("error").GetProperty("target").GetString());
    }

    [Fact]
    public async Task PutRunCommand_RunShellScriptCommandId_Answers400PointingToScript()
    {
        var (status, body) = await SendAsync(HttpMethod.Put, CommandUrl("shell-doc"),
            """{"location":"local","properties":{"source":{"commandId":"RunShellScript"}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("properties.source.commandId", body.GetProperty("error").GetProperty("target").GetString());
        Assert.Contains("properties.source.script", ErrorText(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutRunCommand_CustomCommandId_AgentRunsResolvedScriptAndViewKeepsCommandId()
    {
        var id = "resolve-doc-" + Guid.NewGuid().ToString("N")[..8];
        var name = "uses-" + id;
        await PutIntDocumentAsync(id);

        using var put = await _http.PutAsync(CommandUrl(name), new StringContent(
            $$$"""{"location":"local","properties":{"source":{"commandId":"{{{id}}}"},"parameters":[{"name":"count","value":"5"}]}}""", Encoding.UTF8, "application/json"));
        await fixture.WaitForOperationAsync(put.Headers.GetValues("Azure-AsyncOperation").Single());
        var (_, shown) = await SendAsync(HttpMethod.Get, CommandUrl(name).Replace("?", "?$expand=instanceView&", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var properties = shown.GetProperty("properties");
        Assert.Equal(id, properties.GetProperty("source").GetProperty("commandId").GetString());
        Assert.False(properties.GetProperty("source").TryGetProperty("script", out _));
        Assert.Single(properties.GetProperty("parameters").EnumerateArray());
        // The document's script ran with the given value and the default of the other parameter.
        Assert.Equal("5 x fast\n", properties.GetProperty("instanceView").GetProperty("output").GetString());
    }

    [Fact]
    public async Task PutRunCommand_IfconfigCommandId_RunsIfconfigWithArguments()
    {
        using var put = await _http.PutAsync(CommandUrl("ifconfig-lo"), new StringContent(
            """{"location":"local","properties":{"source":{"commandId":"ifconfig"},"parameters":[{"name":"arguments","value":"lo"}]}}""", Encoding.UTF8, "application/json"));
        await fixture.WaitForOperationAsync(put.Headers.GetValues("Azure-AsyncOperation").Single());
        var (_, shown) = await SendAsync(HttpMethod.Get, CommandUrl("ifconfig-lo").Replace("?", "?$expand=instanceView&", StringComparison.Ordinal));

        var view = shown.GetProperty("properties").GetProperty("instanceView");
        Assert.Equal("Succeeded", view.GetProperty("executionState").GetString());
        Assert.Contains("127.0.0.1", view.GetProperty("output").GetString(), StringComparison.Ordinal);
    }
}

/// <summary>The action-style run: <c>POST .../runCommand</c>, its operation, and the official SDK driving it.</summary>
public sealed class ActionRunApiTests(DocumentServerFixture fixture) : IClassFixture<DocumentServerFixture>
{
    private const string Api = "api-version=2024-07-01";
    private readonly ServerProcess _server = fixture.Server;
    private readonly HttpClient _http = fixture.Http;

    private string RunUrl(string vm = DocumentServerFixture.VmName) =>
        $"/subscriptions/{_server.SubscriptionId}/resourceGroups/{DocumentServerFixture.ResourceGroup}/providers/Microsoft.Compute/virtualMachines/{vm}/runCommand?{Api}";

    private async Task<HttpResponseMessage> PostAsync(string body, string? url = null) =>
        await _http.PostAsync(url ?? RunUrl(), new StringContent(body, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task Post_RunShellScript_Answers202WithBothOperationHeadersAndRunsTheLines()
    {
        using var response = await PostAsync("""{"commandId":"RunShellScript","script":["echo one","echo $1"],"parameters":[{"name":"","value":"two"}]}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var asyncOperation = response.Headers.GetValues("Azure-AsyncOperation").Single();
        Assert.Contains("/operations/", asyncOperation, StringComparison.Ordinal);
        Assert.NotNull(response.Headers.Location);
        Assert.Contains("monitor=true", response.Headers.Location!.ToString(), StringComparison.Ordinal);
        var operation = await fixture.WaitForOperationAsync(asyncOperation);
        var status = operation.GetProperty("properties").GetProperty("output").GetProperty("value")[0];
        Assert.Equal("Enable succeeded: \n[stdout]\none\ntwo\n\n[stderr]\n", status.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Post_Finished_LocationAndAsyncOperationCarryAzureResult()
    {
        // The script waits for a file the test creates once it has seen the run in progress: a fixed sleep raced the
        // server's hold of the first poll (ServerOptions.OperationPollHold) on a loaded machine.
        var go = Path.Combine(fixture.Dir, "go-" + Guid.NewGuid().ToString("N"));
        using var response = await PostAsync($$"""{"commandId":"RunShellScript","script":["echo hi; echo warn >&2; {{Gate.WaitFor(go, 0.02)}}; exit 3"]}""");
        var location = response.Headers.Location!.ToString();
        var asyncUrl = response.Headers.GetValues("Azure-AsyncOperation").Single();
        using var running = await _http.GetAsync(location);
        await File.WriteAllTextAsync(go, "");

        var operation = await fixture.WaitForOperationAsync(asyncUrl);
        using var done = await _http.GetAsync(location);
        var result = JsonDocument.Parse(await done.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Accepted, running.StatusCode);
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        var status = Assert.Single(result.GetProperty("value").EnumerateArray().ToList());
        Assert.Equal("ProvisioningState/failed/0", status.GetProperty("code").GetString());
        Assert.Equal("Enable failed: failed to execute command: command terminated with exit status=3\n[stdout]\nhi\n\n[stderr]\nwarn\n", status.GetProperty("message").GetString());
        Assert.Equal("Succeeded", operation.GetProperty("status").GetString());
        Assert.Equal(3, operation.GetProperty("properties").GetProperty("exitCode").GetInt32());
        Assert.Equal(status.GetProperty("message").GetString(), operation.GetProperty("properties").GetProperty("output").GetProperty("value")[0].GetProperty("message").GetString());
    }

    [Fact]
    public async Task Post_NotListedAmongRunCommands()
    {
        using var response = await PostAsync("""{"commandId":"RunShellScript","script":["true"]}""");
        var list = await _http.GetStringAsync(
            $"/subscriptions/{_server.SubscriptionId}/resourceGroups/{DocumentServerFixture.ResourceGroup}/providers/Microsoft.Compute/virtualMachines/{DocumentServerFixture.VmName}/runCommands?{Api}");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.DoesNotContain("$action-", list, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"script":["true"]}""", "commandId")]
    [InlineData("""{"commandId":"nope"}""", "commandId")]
    [InlineData("""{"commandId":"ifconfig","script":["true"]}""", "script")]
    [InlineData("""{"commandId":"ifconfig","parameters":[{"name":"bogus","value":"x"}]}""", "bogus")]
    public async Task Post_BadBody_Answers400NamingTheField(string body, string field)
    {
        using var response = await PostAsync(body);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_UnknownVm_Answers404()
    {
        using var response = await PostAsync("""{"commandId":"RunShellScript","script":["true"]}""", RunUrl("no-such-vm"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task AzureSdkRunCommand_RunShellScript_ReturnsEnableSucceededMessage()
    {
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(new Uri(_server.Url), _server.Url),
            Transport = new HttpClientTransport(_server.CreateHttpClient(token: null)),
        };
        var arm = new ArmClient(new StaticToken(_server.AdminToken), _server.SubscriptionId, options);
        var vm = arm.GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(_server.SubscriptionId, DocumentServerFixture.ResourceGroup, DocumentServerFixture.VmName));
        var input = new RunCommandInput("RunShellScript");
        input.Script.Add("echo sdk-action");

        var result = await vm.RunCommandAsync(WaitUntil.Completed, input);

        var status = Assert.Single(result.Value.Value);
        Assert.Equal("ProvisioningState/succeeded", status.Code);
        Assert.Equal("Enable succeeded: \n[stdout]\nsdk-action\n\n[stderr]\n", status.Message);
    }

    private sealed class StaticToken(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
