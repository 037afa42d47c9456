using System.Globalization;
using System.Text.RegularExpressions;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// Records every write and every run (any ARM request but GET/HEAD), every agent enrollment, and every refused
/// request (401, 403, 429) in the append-only activity log: who, which action, which resource, when, from which address,
/// which status. It records the path only: never a body, query string or header, so no secret reaches the log.
/// </summary>
public sealed class ActivityLogRecorder
{
    private static readonly object StartedKey = new();
    private static readonly object RecordedKey = new();

    private readonly RequestDelegate _next;

    public ActivityLogRecorder(RequestDelegate next)
    {
        _next = next;
    }

    public async Task InvokeAsync(HttpContext http, IActivityLogStore store, TimeProvider time, ILogger<ActivityLogRecorder> logger)
    {
        http.Items[StartedKey] = time.GetUtcNow();
        try
        {
            await _next(http);
        }
        finally
        {
            if (!http.Items.ContainsKey(RecordedKey) && ShouldRecord(http))
            {
                await RecordAsync(http, store, logger);
            }
        }
    }

    /// <summary>
    /// The request's entry for a handler that appends it in its own write transaction (so the entry and the write commit
    /// together or not at all): given the status the handler will answer. Call <see cref="MarkRecorded"/> once that write
    /// has committed with the entry, so the recorder does not append it again.
    /// </summary>
    public static Func<int, AuditRecord> EntryFor(HttpContext http) => status => Entry(http, status);

    /// <summary>The request's entry was stored with the handler's write; the recorder appends nothing more.</summary>
    public static void MarkRecorded(HttpContext http) => http.Items[RecordedKey] = true;

    private static bool ShouldRecord(HttpContext http)
    {
        var status = http.Response.StatusCode;
        if (status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden or StatusCodes.Status429TooManyRequests)
        {
            return true;
        }

        var path = http.Request.Path;
        if (path.StartsWithSegments("/healthz"))
        {
            return false;
        }

        if (path.StartsWithSegments("/agent"))
        {
            return path.StartsWithSegments("/agent/v1/enroll");
        }

        return !(HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method) || HttpMethods.IsOptions(http.Request.Method));
    }

    private static AuditRecord Entry(HttpContext http, int status)
    {
        var caller = http.Items[typeof(Caller)] as Caller;
        var metadata = http.GetEndpoint()?.Metadata.GetMetadata<ArmActionMetadata>();
        var path = http.Request.Path.Value ?? "/";
        return new AuditRecord
        {
            Id = Guid.NewGuid().ToString(),
            Time = (DateTimeOffset)http.Items[StartedKey]!,
            CallerId = caller?.PrincipalId,
            Caller = caller?.Name,
            Action = metadata?.Action ?? (path.StartsWith("/agent/v1/enroll", StringComparison.Ordinal) ? "RunCommand.Agent/enroll/action" : $"{http.Request.Method} {path}"),
            ResourceId = path,
            ResourceGroup = ArmScope.ResourceGroupOf(path),
            HttpMethod = http.Request.Method,
            StatusCode = status,
            ClientAddress = http.Connection.RemoteIpAddress?.ToString(),
            CorrelationId = http.TraceIdentifier,
        };
    }

    private static async Task RecordAsync(HttpContext http, IActivityLogStore store, ILogger logger)
    {
        try
        {
            // Not the request's token: the entry is written even when the client has gone away.
            await store.AppendAuditAsync(Entry(http, http.Response.StatusCode), CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.AuditFailed(logger, e, http.Request.Method, http.Request.Path.Value ?? "/");
        }
    }
}

/// <summary>
/// <c>GET /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values?$filter=...</c>, Azure Monitor's
/// activity log API. The filter understands <c>eventTimestamp ge '...'</c>, <c>eventTimestamp le '...'</c>,
/// <c>resourceGroupName eq '...'</c> and <c>caller eq '...'</c>, joined by <c>and</c>.
/// </summary>
public static partial class ActivityLogEndpoints
{
    public static void MapActivityLog(this IEndpointRouteBuilder app) =>
        app.MapGet("/subscriptions/{subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values", ListAsync)
            .RequireArmAction(Actions.ActivityLogRead, checkedByHandler: true);

    [GeneratedRegex(@"(?<field>eventTimestamp|resourceGroupName|resourceGroup|caller)\s+(?<op>eq|ge|le)\s+'(?<value>[^']*)'", RegexOptions.IgnoreCase)]
    private static partial Regex Clause();

    /// <summary>
    /// The entries the caller may read: all of them with the right at the subscription; with it at a resource group or
    /// a resource, only the entries at or below that scope (as Azure's activity log shows a resource group's Reader).
    /// </summary>
    private static async Task<IResult> ListAsync(HttpContext http, string subscriptionId, IActivityLogStore store, ServerIdentity identity, Authorizer authorizer, CancellationToken cancellationToken)
    {
        var request = http.Request;
        var viewer = await authorizer.GrantsOfAsync(http.Caller(), cancellationToken);
        if (!viewer.HoldsAnywhere(Actions.ActivityLogRead))
        {
            throw Authorizer.Denied(http.Caller(), Actions.ActivityLogRead, "/subscriptions/" + subscriptionId);
        }

        ArmNames.RequireApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        var query = new AuditQuery();
        var filter = request.Query["$filter"].FirstOrDefault() ?? "";
        foreach (Match clause in Clause().Matches(filter))
        {
            var value = clause.Groups["value"].Value;
            switch (clause.Groups["field"].Value.ToLowerInvariant(), clause.Groups["op"].Value.ToLowerInvariant())
            {
                case ("eventtimestamp", "ge"):
                    query = query with { From = ParseTime(value) };
                    break;
                case ("eventtimestamp", "le"):
                    query = query with { To = ParseTime(value) };
                    break;
                case ("resourcegroupname" or "resourcegroup", "eq"):
                    query = query with { ResourceGroup = value };
                    break;
                case ("caller", "eq"):
                    query = query with { Caller = value };
                    break;
                default:
                    throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidFilter", $"The filter clause '{clause.Value}' is not supported.", "$filter");
            }
        }

        var entries = await store.ListAuditAsync(query, cancellationToken);
        var items = entries
            .Where(e => viewer.IsAllowed(Actions.ActivityLogRead, ScopeOf(e.ResourceId, identity.SubscriptionId)))
            .Select(e => ToEvent(e, identity.SubscriptionId)).ToList();
        return Results.Json(new ResourceList<ActivityLogEvent> { Value = items }, ContractsJsonContext.Default.ResourceListActivityLogEvent);
    }

    /// <summary>The scope an entry belongs to: its path cut before an extension provider; the subscription for paths outside it (agent enrollment).</summary>
    private static string ScopeOf(string path, string subscriptionId) =>
        path.StartsWith("/subscriptions/", StringComparison.OrdinalIgnoreCase) ? ArmScope.OfPath(path) : "/subscriptions/" + subscriptionId;

    private static DateTimeOffset ParseTime(string value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time
            : throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidFilter", $"'{value}' is not a timestamp.", "$filter");

    private static ActivityLogEvent ToEvent(AuditRecord e, string subscriptionId)
    {
        var status = e.StatusCode switch
        {
            < 400 => "Succeeded",
            StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden => "Denied",
            _ => "Failed",
        };
        var subStatus = ((System.Net.HttpStatusCode)e.StatusCode).ToString();
        return new ActivityLogEvent
        {
            Id = $"/subscriptions/{subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values/{e.Id}",
            EventDataId = e.Id,
            CorrelationId = e.CorrelationId,
            Caller = e.Caller,
            Authorization = new ActivityLogAuthorization { Action = e.Action, Scope = e.ResourceId },
            OperationName = new LocalizedValue { Value = e.Action, LocalizedValueText = e.Action },
            Status = new LocalizedValue { Value = status, LocalizedValueText = status },
            SubStatus = new LocalizedValue { Value = subStatus, LocalizedValueText = $"{subStatus} (HTTP Status Code: {e.StatusCode})" },
            EventTimestamp = e.Time,
            ResourceGroupName = ArmScope.ResourceGroupOf(e.ResourceId),
            ResourceId = e.ResourceId,
            SubscriptionId = subscriptionId,
            Level = status == "Succeeded" ? "Informational" : "Warning",
            HttpRequest = new ActivityLogHttpRequest { ClientIpAddress = e.ClientAddress, Method = e.HttpMethod, ClientRequestId = e.CorrelationId },
            Properties = new Dictionary<string, string>
            {
                ["statusCode"] = e.StatusCode.ToString(CultureInfo.InvariantCulture),
                ["callerObjectId"] = e.CallerId ?? "",
            },
        };
    }
}
