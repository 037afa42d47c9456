using Prometheus;
using RunCommand.Server.Arm;
using RunCommand.Server.Auth;
using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>
/// For load balancers and monitoring: <c>/healthz</c> (the process answers), <c>/readyz</c> (the database answers a
/// query and holds the schema version this build needs), Prometheus <c>/metrics</c> and the REST API's OpenAPI
/// document <c>/openapi/v1.json</c> (both for any valid token).
/// </summary>
public static class OperationsEndpoints
{
    public static void MapOperations(this IEndpointRouteBuilder app, DataDirectory dataDir)
    {
        app.MapGet("/readyz", (RunCommandStorage storage, ILogger<ServerMetrics> logger, CancellationToken cancellationToken) =>
            ReadyAsync(storage, dataDir, logger, cancellationToken)).AllowAnonymousCaller();
        app.MapMetrics("/metrics").AllowAnyAuthenticatedCaller();
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnyAuthenticatedCaller();
    }

    private static async Task<IResult> ReadyAsync(RunCommandStorage storage, DataDirectory dataDir, ILogger logger, CancellationToken cancellationToken)
    {
        string? reason;
        if (storage.Backend.Name == "sqlite" && !File.Exists(dataDir.DatabaseFile))
        {
            // The embedded database's file must still be there: pooled connections would keep answering from a lost file.
            reason = $"the database file {dataDir.DatabaseFile} is missing";
        }
        else
        {
            var readiness = await storage.CheckReadinessAsync(cancellationToken);
            reason = readiness.Ready ? null : readiness.Reason ?? "not ready";
        }

        if (reason is null)
        {
            return Results.Text("ready");
        }

        Log.NotReady(logger, reason);
        return ArmResults.Error(StatusCodes.Status503ServiceUnavailable, "DatabaseUnavailable", "The database is not ready: " + reason);
    }
}
