using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm.Documents;
using RunCommand.Server.Auth;
using RunCommand.Storage;

namespace RunCommand.Server.Arm.ActionRuns;

/// <summary>
/// The action-style Run Command, <c>POST .../virtualMachines/{vm}/runCommand</c>: 202 with <c>Azure-AsyncOperation</c>
/// and <c>Location</c>; the operation's final result is <c>{"value":[InstanceViewStatus]}</c>.
/// An action run is an execution with an "action" operation and no run command resource (see
/// <see cref="ActionRunWrite"/>), so the agent protocol is the managed one, nothing is listed and the per-VM limit is
/// untouched.
/// </summary>
public static class ActionRunEndpoints
{
    /// <summary>Azure stops an action run after 90 minutes; so does RunCommand.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(90);

    /// <summary>
    /// Prefix of the run command name the agent sees for an action run; '$' cannot start a run command name, so it
    /// never clashes with a managed one.
    /// </summary>
    public const string NamePrefix = "$action-";

    public static void MapActionRuns(this IEndpointRouteBuilder app)
    {
        app.MapPost("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}/runCommand", RunAsync)
            .RequireArmAction(Actions.RunCommandAction);
        app.MapPost(RunCommandEndpoints.InstancePath + "/runCommand", RunAsync)
            .RequireArmAction(Actions.ScaleSetRunCommandAction);
    }

    private static async Task<IResult> RunAsync(HttpContext http, RunCommandService service, CommandDocuments documents, TimeProvider time, CancellationToken cancellationToken)
    {
        var vm = service.ResolveMachine(http.Request);
        await service.RequireVmAsync(vm, cancellationToken);
        var request = await ActionRunRequest.ReadAsync(http.Request, cancellationToken);
        var errors = request.Errors.ToList();
        RunCommandSpec? spec = null;
        if (request.CommandId is { } commandId)
        {
            var document = await documents.FindAsync(commandId, cancellationToken);
            if (document is null)
            {
                errors.Add(CommandDocuments.Unknown(commandId, "commandId"));
            }
            else
            {
                if (request.Script is { Count: > 0 } && !BuiltInDocuments.IsRunShellScript(document))
                {
                    errors.Add(ArmNames.Invalid("InvalidParameter", "script", $"'script' is only for RunShellScript; command '{document.Id}' brings its own script."));
                }

                var resolution = DocumentResolver.Resolve(document, request.Parameters, [], "parameters", "parameters", request.Script);
                errors.AddRange(resolution.Errors);
                spec = new RunCommandSpec
                {
                    CommandId = document.Id,
                    Parameters = request.Parameters,
                    ResolvedScript = resolution.Script,
                    ResolvedParameters = resolution.Parameters,
                    TimeoutInSeconds = (int)Timeout.TotalSeconds,
                };
            }
        }

        if (errors.Count > 0)
        {
            return ArmResults.Validation(errors);
        }

        var operationId = Guid.NewGuid().ToString();
        var write = new ActionRunWrite { Vm = vm, RunCommandName = NamePrefix + operationId, Spec = spec! };
        if (!await service.Store.StartActionRunAsync(write, Guid.NewGuid().ToString(), operationId, time.GetUtcNow(), cancellationToken))
        {
            await service.RequireVmAsync(vm, cancellationToken);
        }

        service.SetOperationHeaders(http, operationId, location: true);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }
}
