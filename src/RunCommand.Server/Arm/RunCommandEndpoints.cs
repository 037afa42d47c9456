using Microsoft.Extensions.Options;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Arm;

/// <summary>The ARM REST API of VM run commands (CONTRACT.md sections 1 and 2).</summary>
public static class RunCommandEndpoints
{
    private const string VmPath = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}";

    /// <summary>A scale-set instance: the same run command API under it (see <see cref="RunCommandService.ResolveMachine"/>).</summary>
    public const string InstancePath = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}/virtualMachines/{instanceId}";

    public static void MapRunCommands(this IEndpointRouteBuilder app)
    {
        foreach (var (machinePath, read, write, delete) in new[]
        {
            (VmPath, Actions.RunCommandsRead, Actions.RunCommandsWrite, Actions.RunCommandsDelete),
            (InstancePath, Actions.ScaleSetRunCommandsRead, Actions.ScaleSetRunCommandsWrite, Actions.ScaleSetRunCommandsDelete),
        })
        {
            app.MapPut(machinePath + "/runCommands/{runCommandName}", PutAsync).RequireArmAction(write);
            app.MapPatch(machinePath + "/runCommands/{runCommandName}", PatchAsync).RequireArmAction(write);
            app.MapGet(machinePath + "/runCommands/{runCommandName}", GetAsync).RequireArmAction(read);
            app.MapGet(machinePath + "/runCommands", ListAsync).RequireArmAction(read);
            app.MapDelete(machinePath + "/runCommands/{runCommandName}", DeleteAsync).RequireArmAction(delete);
            app.MapGet(machinePath + "/runCommands/{runCommandName}/logs", LogsAsync).RequireArmAction(read);
        }

        app.MapGet("/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}/operations/{operationId}", OperationAsync)
            // An operation is authorized over the resource it belongs to, so a role on one resource group can follow its own runs.
            .RequireArmAction(Actions.OperationsRead, checkedByHandler: true);
    }

    private static async Task<IResult> PutAsync(HttpContext http, string runCommandName, RunCommandService service, CancellationToken cancellationToken)
    {
        var key = service.ResolveCommand(http.Request, runCommandName);
        var request = await RunCommandRequest.ReadAsync(http.Request, isPatch: false, cancellationToken);
        return await service.WriteAsync(http, key, request, isPatch: false, cancellationToken);
    }

    private static async Task<IResult> PatchAsync(HttpContext http, string runCommandName, RunCommandService service, CancellationToken cancellationToken)
    {
        var key = service.ResolveCommand(http.Request, runCommandName);
        var request = await RunCommandRequest.ReadAsync(http.Request, isPatch: true, cancellationToken);
        return await service.WriteAsync(http, key, request, isPatch: true, cancellationToken);
    }

    private static async Task<IResult> GetAsync(HttpContext http, string runCommandName, RunCommandService service, CancellationToken cancellationToken)
    {
        var key = service.ResolveCommand(http.Request, runCommandName);
        var expand = ExpandsInstanceView(http.Request);
        var record = await service.RequireAsync(key, cancellationToken);
        var resource = await service.Views.ToResourceAsync(record, expand, cancellationToken);
        return Results.Json(resource, ContractsJsonContext.Default.RunCommandResource);
    }

    private static async Task<IResult> ListAsync(HttpContext http, RunCommandService service, IOptions<ServerOptions> options, CancellationToken cancellationToken)
    {
        var vm = service.ResolveMachine(http.Request);
        await service.RequireVmAsync(vm, cancellationToken);
        var top = options.Value.DefaultPageSize;
        if (http.Request.Query["$top"] is { Count: > 0 } topValues)
        {
            if (!int.TryParse(topValues[0], out top) || top is < 1 or > 1000)
            {
                throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidParameter", "'$top' must be a number from 1 to 1000.", "$top");
            }
        }

        var after = http.Request.Query["$skiptoken"].FirstOrDefault();
        var page = await service.Store.ListRunCommandsAsync(vm, after, top + 1, cancellationToken);
        var expand = ExpandsInstanceView(http.Request);
        var items = new List<RunCommandResource>();
        foreach (var record in page.Take(top))
        {
            items.Add(await service.Views.ToResourceAsync(record, expand, cancellationToken));
        }

        string? nextLink = null;
        if (page.Count > top)
        {
            var query = new Dictionary<string, string?>
            {
                ["api-version"] = http.Request.Query["api-version"].ToString(),
                ["$top"] = top.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["$skiptoken"] = items[^1].Name,
            };
            if (expand)
            {
                query["$expand"] = "instanceView";
            }

            nextLink = Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(BaseUrl(http.Request) + http.Request.Path, query);
        }

        return Results.Json(new ResourceList<RunCommandResource> { Value = items, NextLink = nextLink }, ContractsJsonContext.Default.ResourceListRunCommandResource);
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, string runCommandName, RunCommandService service, CancellationToken cancellationToken)
    {
        var key = service.ResolveCommand(http.Request, runCommandName);
        return await service.DeleteAsync(http, key, cancellationToken);
    }

    private static async Task<IResult> LogsAsync(HttpContext http, string runCommandName, RunCommandService service, CancellationToken cancellationToken)
    {
        var key = service.ResolveCommand(http.Request, runCommandName);
        var stdoutOffset = ReadLong(http.Request, "stdoutOffset");
        var stderrOffset = ReadLong(http.Request, "stderrOffset");
        var wait = service.ReadWait(http.Request);
        var logs = await service.ReadLogsAsync(key, stdoutOffset, stderrOffset, wait, cancellationToken);
        return Results.Json(logs, ContractsJsonContext.Default.RunCommandLogs);
    }

    private static async Task<IResult> OperationAsync(HttpContext http, string subscriptionId, string location, string operationId, RunCommandService service, Authorizer authorizer, IOptions<ServerOptions> options, CancellationToken cancellationToken)
    {
        ArmNames.RequireComputeApiVersion(http.Request);
        ArmNames.RequireSubscription(subscriptionId, service.SubscriptionId);
        // Operation ids are GUIDs, made in lower case; a client may print and send them back in upper case.
        operationId = operationId.ToLowerInvariant();
        if (await service.Store.GetOperationAsync(operationId, cancellationToken) is { } record
            && !await authorizer.IsAllowedAsync(http.Caller(), Actions.OperationsRead, record.ResourceId, cancellationToken))
        {
            throw Authorizer.Denied(http.Caller(), Actions.OperationsRead, record.ResourceId);
        }

        // No waitSeconds: an ARM client. Hold its poll briefly anyway (ServerOptions.OperationPollHold), so a short run
        // is answered terminal on the first poll instead of after the client's own poll interval.
        var showsProgress = http.Request.Query.ContainsKey("waitSeconds");
        var wait = showsProgress ? service.ReadWait(http.Request) : options.Value.OperationPollHold;
        var operation = await service.GetOperationStatusAsync(operationId, wait, answerOnStart: showsProgress, cancellationToken);
        if (operation is null)
        {
            return ArmResults.NotFound($"The operation '{operationId}' was not found.");
        }

        if (operation.Status == OperationStatus.InProgress)
        {
            http.Response.Headers.RetryAfter = "1";
        }

        var monitor = string.Equals(http.Request.Query["monitor"], "true", StringComparison.OrdinalIgnoreCase);
        if (monitor)
        {
            // The Location-header form: 202 while running, then the final result.
            if (operation.Status == OperationStatus.InProgress)
            {
                http.Response.Headers.Location = http.Request.GetEncodedUrlWithoutWait();
                return Results.StatusCode(StatusCodes.Status202Accepted);
            }

            return operation.Properties?.Output is { } output
                ? Results.Json(output, ContractsJsonContext.Default.RunCommandResult)
                : Results.NoContent();
        }

        return Results.Json(operation, ContractsJsonContext.Default.AsyncOperation);
    }

    /// <summary>
    /// Whether <c>$expand=instanceView</c> was asked for (in any case); any other value is a 400, as Compute answers,
    /// rather than a view silently without what the client expanded.
    /// </summary>
    public static bool ExpandsInstanceView(HttpRequest request)
    {
        var expands = false;
        foreach (var value in request.Query["$expand"])
        {
            if (!string.Equals(value, "instanceView", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidParameter",
                    $"The value '{value}' of the parameter '$expand' is not allowed; the allowed value is 'instanceView'.", "$expand");
            }

            expands = true;
        }

        return expands;
    }

    public static string BaseUrl(HttpRequest request) => $"{request.Scheme}://{request.Host}{request.PathBase}";

    private static string GetEncodedUrlWithoutWait(this HttpRequest request) =>
        BaseUrl(request) + request.Path + Microsoft.AspNetCore.Http.QueryString.Create(
            request.Query.Where(q => q.Key != "waitSeconds").SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v))));

    private static long ReadLong(HttpRequest request, string name)
    {
        var raw = request.Query[name].FirstOrDefault();
        if (raw is null)
        {
            return 0;
        }

        if (!long.TryParse(raw, out var value) || value < 0)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidParameter", $"'{name}' must be a non-negative number.", name);
        }

        return value;
    }
}
