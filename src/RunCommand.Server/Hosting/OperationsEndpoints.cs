using Prometheus;
using RunCommand.Server.Arm;
using RunCommand.Server.Auth;
using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>
/// For load balancers and monitoring: <c>/healthz</c> (the process answers), <c>/readyz</c> (the database answers a
/// query: it was migrated before the server started listening), Prometheus <c>/metrics</c> and the REST API's OpenAPI
/// document <c>/openapi/v1.json</c> (both for any valid token).
/// </summary>
public static class OperationsEndpoints
{
    public static void MapOperations(this IEndpointRouteBuilder app, DataDirectory dataDir)
    {
        app.MapGet("/readyz", (IRunCommandStore store, ILogger<ServerMetrics> logger, CancellationToken cancellationToken) =>
            ReadyAsync(store, dataDir, logger, cancellationToken)).AllowAnonymousCaller();
        app.MapMetrics("/metrics").AllowAnyAuthenticatedCaller();
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnyAuthenticatedCaller();
    }

    private static async Task<IResult> ReadyAsync(IRunCommandStore store, DataDirectory dataDir, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            // The embedded store's file must still be the one it opened (pooled connections would hide its loss).
            if (!File.Exists(dataDir.DatabaseFile))
            {
                throw new IOException($"the database file {dataDir.DatabaseFile} is missing");
            }

            await store.GetTokenHashAsync("admin", cancellationToken);
            return Results.Text("ready");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.NotReady(logger, e.Message);
            return ArmResults.Error(StatusCodes.Status503ServiceUnavailable, "DatabaseUnavailable", "The database does not answer: " + e.Message);
        }
    }
}
