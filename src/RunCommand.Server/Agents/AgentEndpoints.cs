using System.Text.Json;
using Microsoft.Extensions.Options;
using RunCommand.Contracts;
using RunCommand.Contracts.Agents;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Agents;

/// <summary>The agent protocol (docs/agent-protocol.md): enroll, long-poll the goal state, report executions, sign off.</summary>
public static class AgentEndpoints
{
    public static void MapAgentProtocol(this IEndpointRouteBuilder app)
    {
        app.MapPost("/agent/v1/enroll", EnrollAsync);
        app.MapGet("/agent/v1/goalstate", GoalStateAsync);
        app.MapPost("/agent/v1/executions/{executionId}/report", ReportAsync);
        app.MapDelete("/agent/v1/executions/{executionId}", ForgottenAsync);
        app.MapPut("/agent/v1/executions/{executionId}/output/{stream}", OutputUploads.UploadAsync);
        app.MapPost("/agent/v1/signoff", SignOffAsync);
    }

    /// <summary>The agent is stopping cleanly: its machine shows Disconnected at once, through every node.</summary>
    private static async Task<IResult> SignOffAsync(HttpContext http, AgentPresence presence, ILogger<AgentPresence> logger, CancellationToken cancellationToken)
    {
        var vm = http.Caller().Vm!.Vm;
        await presence.SignOffAsync(vm, cancellationToken);
        Log.AgentSignedOff(logger, vm.ResourceId);
        return Results.NoContent();
    }

    private static async Task<IResult> EnrollAsync(HttpContext http, IIdentityStore store, IMachineStore machines, ServerIdentity identity, TimeProvider time, ILogger<TokenService> logger, CancellationToken cancellationToken)
    {
        var request = await ArmBody.ReadAsync(http.Request, ContractsJsonContext.Default.EnrollRequest, cancellationToken);
        var errors = ArmNames.CheckResourceGroup(request.ResourceGroup ?? "").ToList();
        if ((request.VmName is null) == (request.VmScaleSetName is null))
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "vmName", "Give exactly one of 'vmName' (a VM) and 'vmScaleSetName' (a new instance of a scale set)."));
        }
        else
        {
            errors.AddRange(ArmNames.CheckVmName(request.VmName ?? request.VmScaleSetName!));
        }

        foreach (var (key, _) in request.Tags ?? new Dictionary<string, string>())
        {
            if (key.Length is 0 or > 512)
            {
                errors.Add(ArmNames.Invalid("InvalidParameter", "tags", "A tag name must be 1-512 characters."));
            }
        }

        if (request.SubscriptionId is { } subscription && !string.Equals(subscription, identity.SubscriptionId, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(ArmNames.Invalid("SubscriptionNotFound", "subscriptionId", $"This server hosts subscription '{identity.SubscriptionId}', not '{subscription}'."));
        }

        if (request.Location is { } location && !string.Equals(location, identity.Location, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "location", $"This server hosts location '{identity.Location}', not '{location}'."));
        }

        byte[]? publicKey = null;
        if (request.PublicKey is { } keyText)
        {
            try
            {
                publicKey = Convert.FromBase64String(keyText);
            }
            catch (FormatException)
            {
            }

            using var parsed = publicKey is null ? null : AgentAssertion.ImportPublicKey(publicKey);
            if (parsed is null)
            {
                errors.Add(ArmNames.Invalid("InvalidParameter", "publicKey", "'publicKey' must be the base64 SubjectPublicKeyInfo of an ECDSA P-256 public key."));
            }
        }

        if (errors.Count > 0)
        {
            return ArmResults.Validation(errors);
        }

        // An agent with a key gets no token: its key is its credential. Only agents that send none get a bearer token.
        var token = publicKey is null ? TokenService.NewToken("rcg_") : null;
        var tokenHash = token is null ? null : TokenService.Hash(token);
        // For a scale set the instance id is assigned below; the token check needs only the group and the set.
        var vm = request.VmScaleSetName is { } set
            ? new VmKey(identity.SubscriptionId, request.ResourceGroup!, "new", set)
            : new VmKey(identity.SubscriptionId, request.ResourceGroup!, request.VmName!);
        if (http.Caller().EnrollmentTokenHash is { } scopedHash)
        {
            var use = await store.ConsumeEnrollmentTokenAsync(scopedHash, vm, time.GetUtcNow(), cancellationToken);
            switch (use)
            {
                case EnrollmentTokenUse.Accepted:
                    break;
                case EnrollmentTokenUse.WrongResourceGroup:
                    return ArmResults.Error(StatusCodes.Status403Forbidden, "AuthorizationFailed",
                        $"The enrollment token does not allow enrolling into resource group '{request.ResourceGroup}'.", "resourceGroup");
                case EnrollmentTokenUse.WrongScaleSet:
                    return ArmResults.Error(StatusCodes.Status403Forbidden, "AuthorizationFailed",
                        $"The enrollment token allows only instances of one scale set, not {(request.VmScaleSetName is { } s ? $"scale set '{s}'" : $"VM '{request.VmName}'")}.", "vmScaleSetName");
                default:
                    http.Response.Headers.WWWAuthenticate = "Bearer";
                    return ArmResults.Error(StatusCodes.Status401Unauthorized, "InvalidAuthenticationToken", use switch
                    {
                        EnrollmentTokenUse.Expired => "Authentication failed. The enrollment token has expired.",
                        EnrollmentTokenUse.Revoked => "Authentication failed. The enrollment token has been revoked.",
                        EnrollmentTokenUse.UsedUp => "Authentication failed. The enrollment token has been used as often as it allows.",
                        _ => "Authentication failed. The enrollment token is invalid.",
                    });
            }
        }

        VmRecord record;
        if (request.VmScaleSetName is { } scaleSetName)
        {
            // Keep the display spelling of a scale set that already exists.
            var scaleSet = await machines.GetScaleSetAsync(new ScaleSetKey(identity.SubscriptionId, request.ResourceGroup!, scaleSetName), cancellationToken);
            record = await machines.EnrollScaleSetInstanceAsync(scaleSet?.Key ?? new ScaleSetKey(identity.SubscriptionId, request.ResourceGroup!, scaleSetName),
                identity.Location, new AgentCredential(tokenHash, publicKey), request.Hostname, request.AgentVersion, request.Tags, time.GetUtcNow(), cancellationToken);
        }
        else
        {
            var existing = await machines.GetVmAsync(vm, cancellationToken);
            record = await machines.EnrollAgentAsync(existing?.Vm ?? vm, identity.Location, new AgentCredential(tokenHash, publicKey), request.Hostname, request.AgentVersion, request.Tags, time.GetUtcNow(), cancellationToken);
        }

        Log.AgentEnrolled(logger, record.Vm.ResourceId, request.Hostname);
        return Results.Json(new EnrollResponse
        {
            AgentToken = token,
            VmResourceId = record.Vm.ResourceId,
            InstanceId = record.Vm.IsScaleSetInstance ? record.Vm.VmName : null,
        }, ContractsJsonContext.Default.EnrollResponse);
    }

    private static async Task<IResult> GoalStateAsync(HttpContext http, IAgentWorkStore store, IMachineStore machines, IChangeFeed changes, AgentPresence presence, SecretProtector protector, TimeProvider time, IOptions<ServerOptions> options, ServerMetrics metrics, LongPolls polls, AgentAssertionReplay replay, CancellationToken cancellationToken)
    {
        var vm = http.Caller().Vm!.Vm;
        var known = long.TryParse(http.Request.Query["version"], out var v) ? v : -1;
        var waitSeconds = int.TryParse(http.Request.Query["waitSeconds"], out var w) ? Math.Max(0, w) : 0;
        var longPoll = options.Value.AgentLongPoll;
        var wait = TimeSpan.FromSeconds(waitSeconds);
        if (wait > longPoll)
        {
            wait = longPoll;
        }

        // Its assertion's first use, recorded with others' (AgentAssertionReplay): a replay gets nothing, not even presence.
        // The record may wait for others to share its commit, which suits an idle renewal (its answer is minutes away);
        // a poll with work to answer at once (the agent polls again just after its report, and the next command may be
        // there already), or woken by work while it waits, hurries the commit instead of waiting out the batch.
        var changed = changes.NextChangeAsync(Topics.Vm(vm));
        long? versionBeforeUse = null;
        if (http.Caller().AssertionFirstUse is { } firstUse)
        {
            if (!firstUse.IsCompleted)
            {
                versionBeforeUse = await store.GetGoalStateVersionAsync(vm, cancellationToken);
                if (versionBeforeUse != known || await Task.WhenAny(firstUse, changed) != firstUse)
                {
                    replay.Hurry();
                }
            }

            if (!await firstUse)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return ArmResults.Error(StatusCodes.Status401Unauthorized, "InvalidAuthenticationToken", "Authentication failed. The access token is invalid, expired or revoked.");
            }
        }

        // An agent that started with a saved credential says once which version runs now (an upgrade keeps the enrollment).
        if (http.Request.Headers[AgentHeaders.Version].ToString() is { Length: > 0 and <= AgentHeaders.MaxVersionLength } agentVersion)
        {
            await machines.SetAgentVersionAsync(vm, agentVersion, cancellationToken);
        }

        using var poll = await presence.BeginPollAsync(vm, cancellationToken);
        var deadline = time.GetUtcNow() + wait;
        // The credential may be revoked (or replaced, through any node) while the poll waits: the answer is read only
        // while the machine still holds it, in the answer's own snapshot, so a revoked agent gets no work, not even once.
        var presented = BearerAuthentication.Presented(http.Caller(), http.Request.Headers.Authorization.ToString()[7..].Trim());
        // A poll that may wait first reads only the version: most (idle renewals) find it unchanged and wait.
        var versionOnly = wait > TimeSpan.Zero;
        GoalStateAnswer? answer;
        var firstRound = true;
        while (true)
        {
            // Subscribe first, then read: a command created in between wakes this poll. The first round uses the
            // subscription (and version, if read) taken before the assertion's check: a change since completes `changed`.
            if (!firstRound)
            {
                changed = changes.NextChangeAsync(Topics.Vm(vm));
            }

            answer = null;
            long version;
            if (versionOnly)
            {
                versionOnly = false;
                // Only ever the first round's read.
                version = versionBeforeUse ?? await store.GetGoalStateVersionAsync(vm, cancellationToken);
            }
            else
            {
                answer = await store.ReadGoalStateAsync(vm, presented, cancellationToken);
                if (answer is null)
                {
                    return CredentialRevoked(http);
                }

                version = answer.Version;
            }

            firstRound = false;

            var remaining = deadline - time.GetUtcNow();
            if (version != known || remaining <= TimeSpan.Zero)
            {
                if (answer is not null)
                {
                    break;
                }

                // Changed: read the whole answer now.
                continue;
            }

            if (polls.Stopping)
            {
                // This node is stopping: the agent takes its next poll to another node (or here again, later).
                http.Response.Headers.RetryAfter = "1";
                http.Response.Headers.Connection = "close";
                return ArmResults.Error(StatusCodes.Status503ServiceUnavailable, "ServerStopping", "This server is stopping; poll another node or retry later.");
            }

            await polls.WaitAsync(changed, remaining, cancellationToken);
        }

        // Work not yet delivered is marked delivered in a write transaction that checks the credential again.
        if (await store.DeliverGoalStateAsync(vm, presented, answer, cancellationToken) is not { } delivered)
        {
            return CredentialRevoked(http);
        }

        foreach (var item in delivered.Work)
        {
            metrics.Handed(item.Execution);
        }

        var assignments = delivered.Work.Select(item => ToAssignment(item, protector)).ToList();
        return Results.Json(new GoalState { Version = delivered.Version, Executions = assignments, Forget = delivered.Forget.Count == 0 ? null : delivered.Forget, PollSeconds = (int)longPoll.TotalSeconds },
            ContractsJsonContext.Default.GoalState);
    }

    private static IResult CredentialRevoked(HttpContext http)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return ArmResults.Error(StatusCodes.Status401Unauthorized, "InvalidAuthenticationToken", "Authentication failed. The agent credential has been revoked.");
    }

    /// <summary>The agent has deleted its files of an execution whose run command was deleted: it leaves the goal state's <c>forget</c> list.</summary>
    private static async Task<IResult> ForgottenAsync(HttpContext http, string executionId, IAgentWorkStore store, CancellationToken cancellationToken) =>
        await store.AcknowledgeForgottenAsync(http.Caller().Vm!.Vm, executionId, cancellationToken)
            ? Results.NoContent()
            : ArmResults.NotFound($"Execution '{executionId}' is not on this VM's list to forget.");

    private static ExecutionAssignment ToAssignment(PendingWork item, SecretProtector protector)
    {
        var spec = item.Spec;
        var sealedSecrets = protector.Unseal(item.SealedSecrets);
        // A cancelled execution gets no script secrets, but still its blob SAS: the agent flushes the last output.
        var secrets = item.Execution.CancelRequested ? new SecretBundle() : sealedSecrets;
        return new ExecutionAssignment
        {
            ExecutionId = item.Execution.ExecutionId,
            RunCommandName = item.Command.Name,
            Cancel = item.Execution.CancelRequested,
            Started = item.Execution.State == ExecutionState.Running,
            // A commandId source runs the document script resolved when the command was written.
            Script = spec.ResolvedScript ?? spec.Script,
            // Only the agent gets the full URL: the query (a SAS) was sealed apart from the public spec.
            ScriptUri = SasUrl.Join(spec.ScriptUri, secrets.ScriptUriSas),
            Parameters = (spec.ResolvedParameters ?? spec.Parameters).Select(p => new AgentParameter { Name = p.Name, Value = p.Value }).ToList(),
            ProtectedParameters = secrets.ProtectedParameters.Select(p => new AgentParameter { Name = p.Name, Value = p.Value }).ToList(),
            TimeoutInSeconds = spec.TimeoutInSeconds,
            RunAsUser = spec.RunAsUser,
            RunAsPassword = secrets.RunAsPassword,
            OutputBlobUri = SasUrl.Join(spec.OutputBlobUri, sealedSecrets.OutputBlobSas),
            ErrorBlobUri = SasUrl.Join(spec.ErrorBlobUri, sealedSecrets.ErrorBlobSas),
            ScriptUriManagedIdentity = spec.ScriptUriManagedIdentity,
            OutputBlobManagedIdentity = spec.OutputBlobManagedIdentity,
            ErrorBlobManagedIdentity = spec.ErrorBlobManagedIdentity,
            StdoutLength = item.Execution.StdoutLength,
            StderrLength = item.Execution.StderrLength,
        };
    }

    private static async Task<IResult> ReportAsync(HttpContext http, string executionId, IAgentWorkStore store, AgentPresence presence, TimeProvider time, ILogger<AgentPresence> logger, ServerMetrics metrics, CancellationToken cancellationToken)
    {
        var vm = http.Caller().Vm!.Vm;
        var report = await ArmBody.ReadAsync(http.Request, ContractsJsonContext.Default.ExecutionReport, cancellationToken);
        if (!StateRules.TryParseName<ExecutionState>(report.State, out var state))
        {
            return ArmResults.Error(StatusCodes.Status400BadRequest, "InvalidParameter", $"'{report.State}' is not an execution state.", "state");
        }

        await presence.TouchAsync(vm, cancellationToken);
        var outcome = await store.RecordReportAsync(vm, new ReportWrite
        {
            ExecutionId = executionId,
            State = state,
            ExitCode = report.ExitCode,
            Message = report.Message,
            StartTime = report.StartTime,
            EndTime = report.EndTime,
            StdoutOffset = report.Stdout?.Offset,
            StdoutData = report.Stdout?.Data,
            StderrOffset = report.Stderr?.Offset,
            StderrData = report.Stderr?.Data,
        }, time.GetUtcNow(), cancellationToken);
        if (outcome is null)
        {
            return ArmResults.NotFound($"Execution '{executionId}' is not an execution of this VM.");
        }

        if (state.IsTerminal())
        {
            Log.ExecutionState(logger, executionId, vm.ResourceId, report.State);
            metrics.Finished(executionId, report.State);
        }

        return Results.Json(OutputUploads.Ack(outcome), ContractsJsonContext.Default.ReportAck);
    }
}
