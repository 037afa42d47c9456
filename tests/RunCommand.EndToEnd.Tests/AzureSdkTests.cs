using System.Collections.Concurrent;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>The official Azure SDK (Azure.ResourceManager.Compute) drives RunCommand over https, unchanged.</summary>
public sealed class AzureSdkTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-sdk-").FullName;
    private readonly ConcurrentBag<string> _responses = [];
    private ServerProcess _server = null!;
    private AgentProcess _agent = null!;
    private ArmClient _arm = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerProcess.StartAsync(Path.Combine(_dir, "server"), https: true);
        _agent = await AgentProcess.StartAsync(_server, "sdk-vm", "sdk-rg", Path.Combine(_dir, "agent"));
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(new Uri(_server.Url), _server.Url),
            Transport = new HttpClientTransport(_server.CreateHttpClient(token: null)),
        };
        options.AddPolicy(new RecordResponses(_responses), HttpPipelinePosition.PerCall);
        _arm = new ArmClient(new StaticToken(_server.AdminToken), _server.SubscriptionId, options);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private VirtualMachineRunCommandCollection Commands(string vmName = "sdk-vm") =>
        _arm.GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(_server.SubscriptionId, "sdk-rg", vmName)).GetVirtualMachineRunCommands();

    [Fact]
    public async Task CreateOrUpdate_WaitUntilCompleted_RunsTheScriptAndNeverReturnsSecrets()
    {
        const string secret = "sdk-secret-6f1e2d";
        var data = new VirtualMachineRunCommandData(new AzureLocation("local"))
        {
            // The script proves it got the secret by printing its hash; the secret itself appears nowhere but in the request.
            Source = new VirtualMachineRunCommandScriptSource { Script = "echo \"hello $1 from $NAME\"; printf %s \"$SECRET\" | sha256sum | cut -c1-16" },
            TimeoutInSeconds = 60,
        };
        data.Parameters.Add(new RunCommandInputParameter("NAME", "sdk"));
        data.Parameters.Add(new RunCommandInputParameter("", "world"));
        data.ProtectedParameters.Add(new RunCommandInputParameter("SECRET", secret));

        var operation = await Commands().CreateOrUpdateAsync(WaitUntil.Completed, "sdk-hello", data);
        Assert.Equal("Succeeded", operation.Value.Data.ProvisioningState);

        var shown = await Commands().GetAsync("sdk-hello", expand: "instanceView");
        var view = shown.Value.Data.InstanceView;
        Assert.Equal(ExecutionState.Succeeded, view.ExecutionState);
        Assert.Equal(0, view.ExitCode);
        var secretHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret)))[..16];
        Assert.Equal($"hello world from sdk\n{secretHash}\n", view.Output);
        Assert.Empty(shown.Value.Data.ProtectedParameters);

        var listed = new List<VirtualMachineRunCommandResource>();
        await foreach (var item in Commands().GetAllAsync(expand: "instanceView"))
        {
            listed.Add(item);
        }

        Assert.Contains(listed, c => c.Data.Name == "sdk-hello" && c.Data.InstanceView?.ExecutionState == ExecutionState.Succeeded);

        await shown.Value.DeleteAsync(WaitUntil.Completed);
        var missing = await Assert.ThrowsAsync<RequestFailedException>(() => Commands().GetAsync("sdk-hello"));
        Assert.Equal(404, missing.Status);
        Assert.Equal("ResourceNotFound", missing.ErrorCode);

        Assert.NotEmpty(_responses);
        Assert.DoesNotContain(_responses, body => body.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Get_UnknownVm_SurfacesAsRequestFailedException404()
    {
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => Commands("no-such-vm").GetAsync("x"));

        Assert.Equal(404, error.Status);
    }

    [Fact]
    public async Task CreateOrUpdate_FailingScriptWithTreatFailure_FailsTheOperation()
    {
        var data = new VirtualMachineRunCommandData(new AzureLocation("local"))
        {
            Source = new VirtualMachineRunCommandScriptSource { Script = "echo oops >&2; exit 3" },
            TreatFailureAsDeploymentFailure = true,
        };

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => Commands().CreateOrUpdateAsync(WaitUntil.Completed, "sdk-fail", data));

        Assert.Contains("exit code 3", error.Message, StringComparison.Ordinal);
        var shown = await Commands().GetAsync("sdk-fail", expand: "instanceView");
        Assert.Equal(ExecutionState.Failed, shown.Value.Data.InstanceView.ExecutionState);
        Assert.Equal(3, shown.Value.Data.InstanceView.ExitCode);
        Assert.Equal("oops\n", shown.Value.Data.InstanceView.Error);
        Assert.Equal("Failed", shown.Value.Data.ProvisioningState);
    }

    [Fact]
    public async Task CommandDocuments_ListAndGet_ThroughTheSdk()
    {
        var subscription = _arm.GetSubscriptionResource(Azure.ResourceManager.Resources.SubscriptionResource.CreateResourceIdentifier(_server.SubscriptionId));

        var documents = new List<RunCommandDocumentBase>();
        await foreach (var document in subscription.GetVirtualMachineRunCommandsAsync(new AzureLocation("local")))
        {
            documents.Add(document);
        }

        Assert.Contains(documents, d => d.Id == "RunShellScript" && d.OSType == SupportedOperatingSystemType.Linux);
        var ifconfig = (await subscription.GetVirtualMachineRunCommandAsync(new AzureLocation("local"), "ifconfig")).Value;
        Assert.Equal("arguments", Assert.Single(ifconfig.Parameters).Name);
        Assert.NotEmpty(ifconfig.Script);
    }

    [Fact]
    public async Task CreateOrUpdate_ScriptUriWithSasAndRunAsUser_RunsAndHidesTheSas()
    {
        await using var user = await LinuxTestUser.CreateAsync();
        await using var scripts = new ScriptHttpServer((_, _) => ScriptAnswer.Text("\uFEFFid -un\r\necho from-uri\r\n"));
        var data = new VirtualMachineRunCommandData(new AzureLocation("local"))
        {
            Source = new VirtualMachineRunCommandScriptSource { ScriptUri = new Uri(scripts.Url("/s.sh?sv=1&sig=sdk-sas-value")) },
            RunAsUser = user.Name,
            RunAsPassword = user.Password,
        };

        await Commands().CreateOrUpdateAsync(WaitUntil.Completed, "sdk-uri", data);
        var shown = (await Commands().GetAsync("sdk-uri", expand: "instanceView")).Value.Data;

        Assert.Equal(ExecutionState.Succeeded, shown.InstanceView.ExecutionState);
        Assert.Equal($"{user.Name}\nfrom-uri\n", shown.InstanceView.Output);
        Assert.DoesNotContain("sdk-sas-value", shown.Source.ScriptUri?.ToString() ?? "", StringComparison.Ordinal);
        Assert.Null(shown.RunAsPassword);
        Assert.DoesNotContain(_responses, body => body.Contains("sdk-sas-value", StringComparison.Ordinal) || body.Contains(user.Password, StringComparison.Ordinal));
    }

    private sealed class StaticToken(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }

    /// <summary>Keeps every response body the SDK received, to check that no secret is ever in one.</summary>
    private sealed class RecordResponses(ConcurrentBag<string> bodies) : HttpPipelinePolicy
    {
        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            ProcessNext(message, pipeline);
            Record(message);
        }

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            await ProcessNextAsync(message, pipeline);
            Record(message);
        }

        private void Record(HttpMessage message)
        {
            var content = message.Response.Content?.ToString() ?? "";
            bodies.Add(string.Join("\n", message.Response.Headers.Select(h => h.Name + ": " + h.Value)) + "\n" + content);
        }
    }
}
