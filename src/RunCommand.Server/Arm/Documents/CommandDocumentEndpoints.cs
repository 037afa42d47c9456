using System.Text.Json;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;

namespace RunCommand.Server.Arm.Documents;

/// <summary>
/// <c>GET .../locations/{loc}/runCommands[/{commandId}]</c> as in Azure, plus the RunCommand extension
/// <c>PUT</c>/<c>DELETE</c> of custom documents under the same path.
/// </summary>
public static class CommandDocumentEndpoints
{
    private const string Path = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}/runCommands";

    public static void MapCommandDocuments(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, ListAsync).RequireArmAction(Actions.DocumentsRead);
        app.MapGet(Path + "/{commandId}", GetAsync).RequireArmAction(Actions.DocumentsRead);
        app.MapPut(Path + "/{commandId}", PutAsync).RequireArmAction(Actions.DocumentsWrite);
        app.MapDelete(Path + "/{commandId}", DeleteAsync).RequireArmAction(Actions.DocumentsDelete);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, string subscriptionId, string location, CommandDocuments documents, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, location, identity, commandId: null);
        var all = await documents.ListAsync(cancellationToken);
        var items = all.Select(d => new RunCommandDocumentBase { Schema = d.Schema, Id = d.Id, OsType = d.OsType, Label = d.Label, Description = d.Description }).ToList();
        return Results.Json(new ResourceList<RunCommandDocumentBase> { Value = items }, ContractsJsonContext.Default.ResourceListRunCommandDocumentBase);
    }

    private static async Task<IResult> GetAsync(HttpRequest request, string subscriptionId, string location, string commandId, CommandDocuments documents, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, location, identity, commandId);
        var document = await documents.FindAsync(commandId, cancellationToken);
        return document is null
            ? ArmResults.NotFound($"The command document '{commandId}' was not found in location '{location}'.")
            : Results.Json(document, ContractsJsonContext.Default.RunCommandDocument);
    }

    private static async Task<IResult> PutAsync(HttpRequest request, string subscriptionId, string location, string commandId, CommandDocuments documents, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, location, identity, commandId);
        using (var body = await ArmBody.ReadJsonAsync(request, cancellationToken))
        {
            var (created, document) = await documents.PutAsync(commandId, body.RootElement, cancellationToken);
            return Results.Json(document, ContractsJsonContext.Default.RunCommandDocument, statusCode: created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
        }
    }

    private static async Task<IResult> DeleteAsync(HttpRequest request, string subscriptionId, string location, string commandId, CommandDocuments documents, ServerIdentity identity, CancellationToken cancellationToken)
    {
        Check(request, subscriptionId, location, identity, commandId);
        return await documents.DeleteAsync(commandId, cancellationToken) ? Results.Ok() : Results.NoContent();
    }

    private static void Check(HttpRequest request, string subscriptionId, string location, ServerIdentity identity, string? commandId)
    {
        ArmNames.RequireComputeApiVersion(request);
        ArmNames.RequireSubscription(subscriptionId, identity.SubscriptionId);
        if (!string.Equals(location.Replace(" ", "", StringComparison.Ordinal), identity.Location.Replace(" ", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmRequestException(StatusCodes.Status404NotFound, "LocationNotFound",
                $"This server serves location '{identity.Location}' only; got '{location}'.", "location");
        }

        if (commandId is not null && ArmNames.CheckRunCommandName(commandId).ToList() is { Count: > 0 })
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidResourceName",
                $"Command id '{commandId}' is invalid: use 1-80 letters, digits, '_', '-' or '.', starting with a letter, digit or '_' and not ending with '.'.", "commandId");
        }
    }
}
