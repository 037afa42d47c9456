using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Polly;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Client;

/// <summary>
/// Typed client of RunCommand's ARM-shaped REST API, shared by the <c>runcmd</c> CLI and the end-to-end tests.
/// Every call carries the bearer token; a non-2xx answer throws <see cref="ArmRequestException"/> and no answer at
/// all throws <see cref="ServerUnreachableException"/>.
/// </summary>
public sealed partial class RunCommandClient : IDisposable
{
    /// <summary>api-version sent on resource calls.</summary>
    public const string ApiVersion = "2023-07-01";

    /// <summary>api-version of RunCommand's own fleet runs (RunCommand.Fleet/runs).</summary>
    public const string FleetApiVersion = "2026-11-01";

    /// <summary>api-version sent on <c>GET /subscriptions</c>, as ARM's own clients do.</summary>
    public const string SubscriptionsApiVersion = "2022-12-01";

    /// <summary>How long the server may hold a long-poll (operation wait, log follow) open.</summary>
    public const int LongPollSeconds = 30;

    private static readonly MediaTypeHeaderValue JsonMediaType = new("application/json") { CharSet = "utf-8" };

    private readonly HttpClient _http;
    private readonly Uri _server;
    private readonly ResiliencePipeline<HttpResponseMessage> _throttleRetry;

    public RunCommandClient(RunCommandClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _server = options.Server;
        _throttleRetry = ThrottleRetry.Create(options.Time);
        var handler = new SocketsHttpHandler { ConnectTimeout = options.ConnectTimeout };
        if (options.CaCertificatePath is not null)
        {
            var trusted = CertificateTrust.Load(options.CaCertificatePath);
            handler.SslOptions.RemoteCertificateValidationCallback = CertificateTrust.CreateValidator(trusted);
        }

        _http = new HttpClient(handler)
        {
            BaseAddress = options.Server,
            // Long-polls hold a request open for LongPollSeconds; leave room for the answer on top.
            Timeout = options.RequestTimeout,
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("runcmd", ProductVersion));
    }

    public Uri Server => _server;

    /// <summary>The release this client belongs to (Directory.Build.props), sent as its User-Agent.</summary>
    public static string ProductVersion { get; } =
        (typeof(RunCommandClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
        .Split('+')[0];

    public async Task<IReadOnlyList<SubscriptionResource>> ListSubscriptionsAsync(CancellationToken cancellationToken = default)
    {
        var items = new List<SubscriptionResource>();
        var url = $"/subscriptions?api-version={SubscriptionsApiVersion}";
        while (url is not null)
        {
            var page = await SendAsync(HttpMethod.Get, url, null, ContractsJsonContext.Default.ResourceListSubscriptionResource, cancellationToken);
            // The source-generated reader leaves Value null when a page has no "value" member.
            items.AddRange(page.Body!.Value ?? []);
            url = page.Body.NextLink;
        }

        return items;
    }

    /// <summary>The first subscription the server lists.</summary>
    public async Task<SubscriptionResource> GetDefaultSubscriptionAsync(CancellationToken cancellationToken = default)
    {
        var subscriptions = await ListSubscriptionsAsync(cancellationToken);
        return subscriptions.Count > 0
            ? subscriptions[0]
            : throw new ArmRequestException(HttpStatusCode.NotFound, new ArmError
            {
                Code = "SubscriptionNotFound",
                Message = "The server lists no subscription.",
            });
    }

    /// <summary>PUT: 201 creates, 200 replaces; the answer carries the operation to wait for.</summary>
    public Task<ArmResponse<RunCommandResource>> CreateOrUpdateAsync(
        RunCommandRef target, RunCommandResource resource, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, RunCommandPath(target), Body(resource), ContractsJsonContext.Default.RunCommandResource, cancellationToken);

    /// <summary>PATCH: only the members set in <paramref name="patch"/> change.</summary>
    public Task<ArmResponse<RunCommandResource>> PatchAsync(
        RunCommandRef target, RunCommandResource patch, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Patch, RunCommandPath(target), Body(patch), ContractsJsonContext.Default.RunCommandResource, cancellationToken);

    public async Task<RunCommandResource> GetAsync(
        RunCommandRef target, bool expandInstanceView = false, CancellationToken cancellationToken = default)
    {
        var url = RunCommandPath(target) + (expandInstanceView ? "&$expand=instanceView" : "");
        var response = await SendAsync<RunCommandResource>(HttpMethod.Get, url, null, ContractsJsonContext.Default.RunCommandResource, cancellationToken);
        return response.Body!;
    }

    /// <summary>Every run command of a VM, following <c>nextLink</c> across pages.</summary>
    public async Task<IReadOnlyList<RunCommandResource>> ListAsync(
        VmRef vm, bool expandInstanceView = false, CancellationToken cancellationToken = default)
    {
        var items = new List<RunCommandResource>();
        await foreach (var item in ListPagesAsync(
            VmPath(vm, "/runCommands") + (expandInstanceView ? "&$expand=instanceView" : ""),
            ContractsJsonContext.Default.ResourceListRunCommandResource,
            cancellationToken))
        {
            items.Add(item);
        }

        return items;
    }

    /// <summary>
    /// DELETE: answers the operation to wait for, or null when the server said 204 (there was nothing to delete).
    /// </summary>
    public async Task<Uri?> DeleteAsync(RunCommandRef target, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync<RunCommandResource>(HttpMethod.Delete, RunCommandPath(target), null, null, cancellationToken);
        return response.StatusCode == HttpStatusCode.NoContent ? null : response.OperationUrl;
    }

    /// <summary>
    /// Long-polls an <c>Azure-AsyncOperation</c> URL until the operation is no longer InProgress. The server holds
    /// each GET up to <c>waitSeconds</c> until the operation ends, so there is no client-side sleep.
    /// </summary>
    public Task<AsyncOperation> WaitForOperationAsync(Uri operationUrl, CancellationToken cancellationToken = default) =>
        WaitForOperationAsync(operationUrl, LongPollSeconds, null, cancellationToken);

    /// <summary>
    /// Long-polls the operation until it ends, calling <paramref name="whileInProgress"/> after each poll that found it
    /// still in progress (at most every <paramref name="pollSeconds"/>), e.g. to show how the run is getting on.
    /// </summary>
    public async Task<AsyncOperation> WaitForOperationAsync(
        Uri operationUrl, int pollSeconds, Func<CancellationToken, Task>? whileInProgress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operationUrl);
        var url = AppendQuery(operationUrl.ToString(), $"waitSeconds={pollSeconds}");
        while (true)
        {
            var response = await SendAsync(HttpMethod.Get, url, null, ContractsJsonContext.Default.AsyncOperation, cancellationToken);
            var operation = response.Body!;
            if (!string.Equals(operation.Status, OperationStatus.InProgress, StringComparison.OrdinalIgnoreCase))
            {
                return operation;
            }

            if (whileInProgress is not null)
            {
                await whileInProgress(cancellationToken);
            }
        }
    }

    /// <summary>
    /// RunCommand extension: output of the latest execution from the given byte offsets; the server waits up to
    /// <paramref name="waitSeconds"/> for new bytes unless the execution has ended.
    /// </summary>
    public async Task<RunCommandLogs> GetLogsAsync(
        RunCommandRef target, long stdoutOffset, long stderrOffset, int waitSeconds, CancellationToken cancellationToken = default)
    {
        var url = RunCommandPath(target, "/logs")
            + $"&stdoutOffset={stdoutOffset}&stderrOffset={stderrOffset}&waitSeconds={waitSeconds}";
        var response = await SendAsync(HttpMethod.Get, url, null, ContractsJsonContext.Default.RunCommandLogs, cancellationToken);
        return response.Body!;
    }

    /// <summary>VMs of a subscription, or of one resource group when <paramref name="resourceGroup"/> is set.</summary>
    public async Task<IReadOnlyList<VirtualMachineResource>> ListVmsAsync(
        string subscription, string? resourceGroup = null, CancellationToken cancellationToken = default)
    {
        var url = resourceGroup is null
            ? $"/subscriptions/{Escape(subscription)}/providers/Microsoft.Compute/virtualMachines?api-version={ApiVersion}"
            : $"/subscriptions/{Escape(subscription)}/resourceGroups/{Escape(resourceGroup)}/providers/Microsoft.Compute/virtualMachines?api-version={ApiVersion}";
        var items = new List<VirtualMachineResource>();
        await foreach (var item in ListPagesAsync(url, ContractsJsonContext.Default.ResourceListVirtualMachineResource, cancellationToken))
        {
            items.Add(item);
        }

        return items;
    }

    public async Task<VirtualMachineResource> GetVmAsync(VmRef vm, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(HttpMethod.Get, VmPath(vm, ""), null, ContractsJsonContext.Default.VirtualMachineResource, cancellationToken);
        return response.Body!;
    }

    /// <summary>Replaces a VM's tags (<c>PATCH .../virtualMachines/{vm}</c>).</summary>
    public async Task<VirtualMachineResource> UpdateVmTagsAsync(VmRef vm, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(HttpMethod.Patch, VmPath(vm, ""), Body(new VirtualMachineUpdate { Tags = tags }, ContractsJsonContext.Default.VirtualMachineUpdate),
            ContractsJsonContext.Default.VirtualMachineResource, cancellationToken);
        return response.Body!;
    }

    /// <summary>Instances of a scale set with their agents' status.</summary>
    public async Task<IReadOnlyList<VirtualMachineResource>> ListInstancesAsync(string subscription, string resourceGroup, string scaleSetName, CancellationToken cancellationToken = default)
    {
        var url = $"/subscriptions/{Escape(subscription)}/resourceGroups/{Escape(resourceGroup)}/providers/Microsoft.Compute/virtualMachineScaleSets/{Escape(scaleSetName)}/virtualMachines?api-version={ApiVersion}";
        var items = new List<VirtualMachineResource>();
        await foreach (var item in ListPagesAsync(url, ContractsJsonContext.Default.ResourceListVirtualMachineResource, cancellationToken))
        {
            items.Add(item);
        }

        return items;
    }

    /// <summary>Creates a fleet run (runs are immutable: a second PUT of the same name is a 409).</summary>
    public async Task<FleetRunResource> CreateFleetRunAsync(FleetRunRef run, FleetRunResource resource, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(HttpMethod.Put, FleetRunPath(run), Body(resource, ContractsJsonContext.Default.FleetRunResource), ContractsJsonContext.Default.FleetRunResource, cancellationToken);
        return response.Body!;
    }

    /// <summary>A fleet run with its counts and each target's outcome; <paramref name="waitSeconds"/> &gt; 0 holds the call until something changes.</summary>
    public async Task<FleetRunResource> GetFleetRunAsync(FleetRunRef run, int waitSeconds = 0, CancellationToken cancellationToken = default)
    {
        var url = FleetRunPath(run) + (waitSeconds > 0 ? $"&waitSeconds={waitSeconds}" : "");
        var response = await SendAsync(HttpMethod.Get, url, null, ContractsJsonContext.Default.FleetRunResource, cancellationToken);
        return response.Body!;
    }

    public async Task<IReadOnlyList<FleetRunResource>> ListFleetRunsAsync(string subscription, string resourceGroup, CancellationToken cancellationToken = default)
    {
        var url = $"/subscriptions/{Escape(subscription)}/resourceGroups/{Escape(resourceGroup)}/providers/{ResourceTypes.FleetRun}?api-version={FleetApiVersion}";
        var items = new List<FleetRunResource>();
        await foreach (var item in ListPagesAsync(url, ContractsJsonContext.Default.ResourceListFleetRunResource, cancellationToken))
        {
            items.Add(item);
        }

        return items;
    }

    /// <summary>Stops a fleet run: what runs is canceled, nothing new starts.</summary>
    public async Task CancelFleetRunAsync(FleetRunRef run, CancellationToken cancellationToken = default) =>
        await SendAsync<FleetRunResource>(HttpMethod.Post, FleetRunPath(run, "/cancel"), null, null, cancellationToken);

    /// <summary>
    /// Action-style run (<c>POST .../virtualMachines/{vm}/runCommand</c>): answers the <c>Azure-AsyncOperation</c> URL;
    /// <see cref="WaitForOperationAsync"/> on it gives the result in <c>properties.output</c>.
    /// </summary>
    public async Task<Uri> InvokeAsync(VmRef vm, RunCommandInput input, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync<RunCommandResult>(HttpMethod.Post, VmPath(vm, "/runCommand"), Body(input, ContractsJsonContext.Default.RunCommandInput), null, cancellationToken);
        return response.OperationUrl ?? response.Location ?? throw new ArmRequestException(response.StatusCode, new ArmError
        {
            Code = "InvalidResponse",
            Message = "The server accepted the run but gave no operation URL to follow.",
        });
    }

    /// <summary>Command documents of a location: the built-in ones and the custom ones (base entries, without script).</summary>
    public async Task<IReadOnlyList<RunCommandDocumentBase>> ListDocumentsAsync(string subscription, string location, CancellationToken cancellationToken = default)
    {
        var items = new List<RunCommandDocumentBase>();
        await foreach (var item in ListPagesAsync(DocumentPath(subscription, location, null), ContractsJsonContext.Default.ResourceListRunCommandDocumentBase, cancellationToken))
        {
            items.Add(item);
        }

        return items;
    }

    public async Task<RunCommandDocument> GetDocumentAsync(string subscription, string location, string commandId, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(HttpMethod.Get, DocumentPath(subscription, location, commandId), null, ContractsJsonContext.Default.RunCommandDocument, cancellationToken);
        return response.Body!;
    }

    /// <summary>RunCommand extension: registers or replaces a custom command document (201 new, 200 replaced).</summary>
    public Task<ArmResponse<RunCommandDocument>> PutDocumentAsync(string subscription, string location, RunCommandDocument document, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, DocumentPath(subscription, location, document.Id), Body(document, ContractsJsonContext.Default.RunCommandDocument), ContractsJsonContext.Default.RunCommandDocument, cancellationToken);

    /// <summary>RunCommand extension: removes a custom command document; false when there was none.</summary>
    public async Task<bool> DeleteDocumentAsync(string subscription, string location, string commandId, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync<RunCommandDocument>(HttpMethod.Delete, DocumentPath(subscription, location, commandId), null, null, cancellationToken);
        return response.StatusCode != HttpStatusCode.NoContent;
    }

    // ---- deployments (Microsoft.Resources) ----

    /// <summary>api-version sent on deployment calls.</summary>
    public const string DeploymentsApiVersion = "2022-09-01";

    /// <summary>PUT a deployment: 201 or 200 with provisioningState Accepted or Running, and the status URL to wait on.</summary>
    public Task<ArmResponse<DeploymentResource>> CreateDeploymentAsync(
        string subscription, string resourceGroup, string name, JsonElement template, JsonElement? parameters, CancellationToken cancellationToken = default)
    {
        var body = new DeploymentResource
        {
            Properties = new DeploymentProperties { Template = template, Parameters = parameters, Mode = "Incremental" },
        };
        return SendAsync(HttpMethod.Put, DeploymentPath(subscription, resourceGroup, name), Body(body, ContractsJsonContext.Default.DeploymentResource),
            ContractsJsonContext.Default.DeploymentResource, cancellationToken);
    }

    public async Task<DeploymentResource> GetDeploymentAsync(string subscription, string resourceGroup, string name, CancellationToken cancellationToken = default) =>
        (await SendAsync(HttpMethod.Get, DeploymentPath(subscription, resourceGroup, name), null, ContractsJsonContext.Default.DeploymentResource, cancellationToken)).Body!;

    public async Task<IReadOnlyList<DeploymentResource>> ListDeploymentsAsync(string subscription, string resourceGroup, CancellationToken cancellationToken = default)
    {
        var items = new List<DeploymentResource>();
        await foreach (var item in ListPagesAsync(DeploymentPath(subscription, resourceGroup, null), ContractsJsonContext.Default.ResourceListDeploymentResource, cancellationToken))
        {
            items.Add(item);
        }

        return items;
    }

    public async Task<IReadOnlyList<DeploymentOperation>> ListDeploymentOperationsAsync(string subscription, string resourceGroup, string name, CancellationToken cancellationToken = default)
    {
        var items = new List<DeploymentOperation>();
        await foreach (var item in ListPagesAsync(DeploymentPath(subscription, resourceGroup, name, "/operations"), ContractsJsonContext.Default.ResourceListDeploymentOperation, cancellationToken))
        {
            items.Add(item);
        }

        return items;
    }

    /// <summary>Removes the deployment record (the run commands it created stay); false when there was none.</summary>
    public async Task<bool> DeleteDeploymentAsync(string subscription, string resourceGroup, string name, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync<DeploymentResource>(HttpMethod.Delete, DeploymentPath(subscription, resourceGroup, name), null, null, cancellationToken);
        return response.StatusCode != HttpStatusCode.NoContent;
    }

    /// <summary>Long-polls a deployment's status URL until it is Succeeded, Failed or Canceled.</summary>
    public async Task<AsyncOperation> WaitForDeploymentAsync(Uri operationUrl, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operationUrl);
        var url = AppendQuery(operationUrl.ToString(), $"waitSeconds={LongPollSeconds}");
        while (true)
        {
            var operation = (await SendAsync(HttpMethod.Get, url, null, ContractsJsonContext.Default.AsyncOperation, cancellationToken)).Body!;
            if (operation.Status is OperationStatus.Succeeded or OperationStatus.Failed or OperationStatus.Canceled)
            {
                return operation;
            }
        }
    }

    private static string DeploymentPath(string subscription, string resourceGroup, string? name, string suffix = "") =>
        $"/subscriptions/{Escape(subscription)}/resourcegroups/{Escape(resourceGroup)}/providers/Microsoft.Resources/deployments"
        + (name is null ? "" : "/" + Escape(name)) + $"{suffix}?api-version={DeploymentsApiVersion}";

    public void Dispose() => _http.Dispose();

    private static string DocumentPath(string subscription, string location, string? commandId) =>
        $"/subscriptions/{Escape(subscription)}/providers/Microsoft.Compute/locations/{Escape(location)}/runCommands"
        + (commandId is null ? "" : "/" + Escape(commandId)) + $"?api-version={ApiVersion}";

    private static byte[] Body(RunCommandResource resource) => Body(resource, ContractsJsonContext.Default.RunCommandResource);

    private static byte[] Body<TBody>(TBody body, JsonTypeInfo<TBody> typeInfo) => JsonSerializer.SerializeToUtf8Bytes(body, typeInfo);

    /// <summary>Path and api-version of a run command (or of a sub-resource of it).</summary>
    public static string RunCommandPath(RunCommandRef target, string suffix = "")
    {
        ArgumentNullException.ThrowIfNull(target);
        return VmPath(target.Vm, $"/runCommands/{Escape(target.Name)}{suffix}");
    }

    private static string VmPath(VmRef vm, string suffix) =>
        $"/subscriptions/{Escape(vm.Subscription)}/resourceGroups/{Escape(vm.ResourceGroup)}"
        + (vm.ScaleSetName is null
            ? $"/providers/Microsoft.Compute/virtualMachines/{Escape(vm.VmName)}"
            : $"/providers/Microsoft.Compute/virtualMachineScaleSets/{Escape(vm.ScaleSetName)}/virtualMachines/{Escape(vm.VmName)}")
        + $"{suffix}?api-version={ApiVersion}";

    private static string FleetRunPath(FleetRunRef run, string suffix = "") =>
        $"/subscriptions/{Escape(run.Subscription)}/resourceGroups/{Escape(run.ResourceGroup)}/providers/{ResourceTypes.FleetRun}/{Escape(run.Name)}{suffix}?api-version={FleetApiVersion}";

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private const int ExpectContinueThresholdBytes = 64 * 1024;

    private static string AppendQuery(string url, string query) =>
        url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query;

    private async IAsyncEnumerable<T> ListPagesAsync<T>(
        string firstPage, JsonTypeInfo<ResourceList<T>> typeInfo, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? url = firstPage;
        while (url is not null)
        {
            var page = await SendAsync(HttpMethod.Get, url, null, typeInfo, cancellationToken);
            foreach (var item in page.Body!.Value ?? [])
            {
                yield return item;
            }

            url = page.Body.NextLink;
        }
    }

    private async Task<ArmResponse<T>> SendAsync<T>(
        HttpMethod method, string url, byte[]? body, JsonTypeInfo<T>? responseType, CancellationToken cancellationToken)
        where T : class
    {
        HttpResponseMessage response;
        try
        {
            // A throttled request (429, or 503 with Retry-After) was not processed: sent again after the server's wait.
            response = await _throttleRetry.ExecuteAsync(
                static async (state, token) =>
                {
                    using var request = NewRequest(state.method, state.url, state.body);
                    return await state._http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
                },
                (method, url, body, _http),
                cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ServerUnreachableException(_server, DescribeFailure(e), e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ServerUnreachableException(_server, $"no answer within {_http.Timeout.TotalSeconds:0} seconds", e);
        }

        using (response)
        {
            var content = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new ArmRequestException(response.StatusCode, ParseError(response, content));
            }

            var operationUrl = response.Headers.TryGetValues("Azure-AsyncOperation", out var values)
                ? new Uri(_server, values.First())
                : null;
            T? parsed = null;
            if (responseType is not null && content.Length > 0)
            {
                try
                {
                    parsed = JsonSerializer.Deserialize(content, responseType);
                }
                catch (JsonException e)
                {
                    throw new ArmRequestException(response.StatusCode, new ArmError
                    {
                        Code = "InvalidResponse",
                        Message = $"The server's answer to {method} {new Uri(_server, url).AbsolutePath} is not valid JSON: {e.Message}",
                    });
                }
            }

            if (responseType is not null && parsed is null && response.StatusCode != HttpStatusCode.NoContent)
            {
                throw new ArmRequestException(response.StatusCode, new ArmError
                {
                    Code = "InvalidResponse",
                    Message = $"The server's answer to {method} {new Uri(_server, url).AbsolutePath} has no body.",
                });
            }

            return new ArmResponse<T>(response.StatusCode, parsed, operationUrl, response.Headers.Location)
            {
                Unchanged = response.Headers.TryGetValues(ArmHeaders.Unchanged, out var unchanged) && unchanged.Contains("true"),
            };
        }
    }

    private static HttpRequestMessage NewRequest(HttpMethod method, string url, byte[]? body)
    {
        var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = JsonMediaType;

            // A large body waits for the server's go-ahead: a server refusing it (413) answers before the body is
            // sent, so its error reaches the user instead of a broken upload ("error while copying content").
            request.Headers.ExpectContinue = body.Length > ExpectContinueThresholdBytes;
        }

        return request;
    }

    private static ArmError ParseError(HttpResponseMessage response, byte[] content)
    {
        if (content.Length > 0)
        {
            try
            {
                var body = JsonSerializer.Deserialize(content, ContractsJsonContext.Default.ArmErrorResponse);
                if (body?.Error is { Code: not null, Message: not null })
                {
                    return body.Error;
                }
            }
            catch (JsonException)
            {
                // Not ARM-shaped: fall through and show the raw text.
            }
        }

        var text = Encoding.UTF8.GetString(content).Trim();
        if (text.Length > 300)
        {
            text = text[..300] + "...";
        }

        var code = response.StatusCode.ToString();
        return new ArmError
        {
            Code = code,
            Message = text.Length > 0
                ? $"HTTP {(int)response.StatusCode}: {text}"
                : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd(),
        };
    }

    private static string DescribeFailure(HttpRequestException e)
    {
        if (e.InnerException is AuthenticationException tls)
        {
            return $"TLS handshake failed ({tls.Message}); pass --ca-cert with the server's certificate";
        }

        if (e.InnerException is SocketException socket)
        {
            return socket.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused (is the server running? start one with ./runcmd up)",
                SocketError.HostNotFound or SocketError.TryAgain => $"host not found ({socket.Message})",
                _ => socket.Message,
            };
        }

        return e.Message;
    }
}

/// <summary>A successful answer: status, parsed body (null for 202/204 without one) and the long-running operation headers.</summary>
public sealed record ArmResponse<T>(HttpStatusCode StatusCode, T? Body, Uri? OperationUrl, Uri? Location)
    where T : class
{
    /// <summary>True when the server says the write changed nothing (<see cref="ArmHeaders.Unchanged"/>): nothing ran again.</summary>
    public bool Unchanged { get; init; }
}

/// <summary>Where the server is and how to authenticate to it.</summary>
public sealed record RunCommandClientOptions
{
    /// <summary>Base URL, e.g. <c>http://127.0.0.1:5080</c>.</summary>
    public required Uri Server { get; init; }

    /// <summary>Bearer token (the admin token the server writes to <c>admin.token</c>).</summary>
    public required string Token { get; init; }

    /// <summary>The clock the client waits on when the server asks it to retry later.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>PEM/DER file of the server's self-signed certificate or of its CA; null trusts the system store only.</summary>
    public string? CaCertificatePath { get; init; }

    /// <summary>Longer than <see cref="RunCommandClient.LongPollSeconds"/> so long-polls are not cut short.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
