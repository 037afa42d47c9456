using RunCommand.Contracts.Agents;
using RunCommand.Server.Arm;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>Who made a request, as established by <see cref="BearerAuthentication"/>.</summary>
/// <param name="Vm">
/// The machine an agent speaks for. For an agent with a key it may be the record read when this node first kept the key
/// (<see cref="AgentKeys"/>): its names are exact, its other fields (contact, tags) may be old.
/// </param>
public sealed record Caller(string Kind, VmRecord? Vm = null)
{
    /// <summary>The bootstrap admin (admin.token): a built-in principal holding Owner at "/".</summary>
    public const string Admin = "admin";

    /// <summary>A user or service principal with an API token; what it may do comes from its role assignments.</summary>
    public const string Principal = "principal";

    public const string Agent = "agent";
    public const string Enrollment = "enrollment";

    /// <summary>Object id of the bootstrap admin.</summary>
    public const string AdminPrincipalId = "00000000-0000-0000-0000-000000000001";

    /// <summary>Name of the bootstrap admin; no stored principal may take it.</summary>
    public const string AdminName = "admin";

    /// <summary>For an agent with a key: the public key its assertion verified with (a long poll checks it is still the machine's).</summary>
    public byte[]? AgentPublicKey { get; init; }

    /// <summary>
    /// For an agent's goal-state poll: whether its assertion's first use is recorded (false: a replay); the poll awaits
    /// it before anything else (<see cref="AgentAssertionReplay"/>, deferred). Null when already checked.
    /// </summary>
    public Task<bool>? AssertionFirstUse { get; init; }

    /// <summary>Object id of the principal; null for agents and enrollment.</summary>
    public string? PrincipalId { get; init; }

    /// <summary>For enrollment with a resource-group token: its hash (the enroll handler checks and counts the use).</summary>
    public byte[]? EnrollmentTokenHash { get; init; }

    /// <summary>What the activity log and error messages call the caller.</summary>
    public string Name { get; init; } = Kind;

    /// <summary>Partition key of rate limiting: one bucket per principal, per agent, or for enrollment.</summary>
    public string RateLimitKey => Kind switch
    {
        Agent => "agent:" + Vm?.Vm.Key,
        Enrollment => "enrollment",
        _ => "principal:" + PrincipalId,
    };

    public static Caller BootstrapAdmin { get; } = new(Admin) { PrincipalId = AdminPrincipalId, Name = AdminName };
}

/// <summary>
/// Checks the bearer token of every request but the health check: the ARM API takes the admin token, the agent
/// API an agent's own credential, a key-signed assertion or its token (enrollment takes the enrollment token). Failures are 401 with an ARM error body.
/// </summary>
public sealed class BearerAuthentication
{
    private readonly RequestDelegate _next;

    public BearerAuthentication(RequestDelegate next)
    {
        _next = next;
    }

    public async Task InvokeAsync(HttpContext http, TokenService tokens, IIdentityStore store, IMachineStore machines, TimeProvider time, ILogger<BearerAuthentication> logger, FailedAuthenticationThrottle throttle, AgentAssertionReplay replay, AgentKeys keys)
    {
        var path = http.Request.Path;
        if (path.StartsWithSegments("/healthz") || http.GetEndpoint()?.Metadata.GetMetadata<AnonymousCallerMetadata>() is not null)
        {
            await _next(http);
            return;
        }

        // Before the credential is looked at: an address that failed too often is not heard until its window ends.
        var address = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (throttle.IsBlocked(address))
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(throttle.Window.TotalSeconds));
            Log.AuthenticationThrottled(logger, address, path);
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await ArmResults.Error(StatusCodes.Status429TooManyRequests, "TooManyFailedAuthentications",
                $"Too many failed authentications from {address}; retry after {seconds} s.").ExecuteAsync(http);
            return;
        }

        var header = http.Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            await RefuseAsync(http, logger, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
            return;
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
        {
            await RefuseAsync(http, logger, "InvalidAuthenticationToken", "Authentication failed. The 'Authorization' header must be 'Bearer <token>'.");
            return;
        }

        var token = header[7..].Trim();
        Caller? caller = null;
        if (path.StartsWithSegments("/agent/v1/enroll"))
        {
            if (tokens.IsEnrollment(token))
            {
                caller = new Caller(Caller.Enrollment);
            }
            else if (await store.FindEnrollmentTokenAsync(TokenService.Hash(token), http.RequestAborted) is { } scoped)
            {
                caller = new Caller(Caller.Enrollment) { EnrollmentTokenHash = TokenService.Hash(token), Name = "enrollment-token:" + scoped.Id };
            }
        }
        else if (path.StartsWithSegments("/agent"))
        {
            // A goal-state poll's assertion is recorded with others (the poll awaits it first); any other call's at once.
            var deferred = http.Request.Method == HttpMethods.Get && path.StartsWithSegments("/agent/v1/goalstate");
            if (await FindAgentAsync(token, machines, keys, replay, deferred, time, http.RequestAborted) is { } agent
                && (deferred || await agent.FirstUse))
            {
                caller = new Caller(Caller.Agent, agent.Vm)
                {
                    Name = "agent:" + agent.Vm.Vm.ResourceId,
                    AgentPublicKey = agent.PublicKey,
                    AssertionFirstUse = deferred ? agent.FirstUse : null,
                };
            }
        }
        else if (tokens.IsAdmin(token))
        {
            caller = Caller.BootstrapAdmin;
        }
        else if (await store.FindApiTokenAsync(TokenService.Hash(token), http.RequestAborted) is { } found)
        {
            var now = time.GetUtcNow();
            if (found.Token.Revoked is not null)
            {
                await RefuseAsync(http, logger, "InvalidAuthenticationToken", "Authentication failed. The access token has been revoked.");
                return;
            }

            if (found.Token.Expires is { } expires && expires <= now)
            {
                await RefuseAsync(http, logger, "ExpiredAuthenticationToken",
                    $"The access token expiry UTC time '{expires.UtcDateTime:O}' is earlier than current UTC time '{now.UtcDateTime:O}'.");
                return;
            }

            caller = new Caller(Caller.Principal) { PrincipalId = found.Principal.Id, Name = found.Principal.Name };
        }

        if (caller is null)
        {
            await RefuseAsync(http, logger, "InvalidAuthenticationToken", "Authentication failed. The access token is invalid, expired or revoked.");
            return;
        }

        http.Items[typeof(Caller)] = caller;
        await _next(http);
    }

    /// <summary>
    /// The machine an agent credential speaks for, or null. A signed assertion (<c>rck1.</c>): the machine it names must
    /// exist with an enrolled key, the signature must verify with that key, and its time must be within
    /// <see cref="AgentAssertion.MaxSkew"/> of now; then its use is recorded (<see cref="AgentAssertionReplay"/>, after
    /// the signature so only the key's holder can use an assertion up): <c>FirstUse</c> is false for a replay or when the
    /// machine no longer holds the key, and the caller must await it (at once, or before a deferred poll answers
    /// anything). The machine and key come from this node's <see cref="AgentKeys"/> when it holds them, with no read:
    /// the recorded use is what checks, in the store, that the machine still holds that key; a signature that does not
    /// verify with the kept key reads the store once (the machine may have enrolled again, on another node). The machine
    /// record is the one read when its key was kept: only its names (<see cref="VmRecord.Vm"/>) are to be relied on. The
    /// machine is the one whose key verified, so an agent only ever speaks for itself. Anything else is an agent token,
    /// looked up by its hash.
    /// </summary>
    public static async Task<(VmRecord Vm, byte[]? PublicKey, Task<bool> FirstUse)?> FindAgentAsync(string token, IMachineStore store, AgentKeys keys,
        AgentAssertionReplay replay, bool deferred, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!token.StartsWith(AgentAssertion.Prefix, StringComparison.Ordinal))
        {
            return await store.FindVmByAgentTokenAsync(TokenService.Hash(token), cancellationToken) is { } vm ? (vm, null, Task.FromResult(true)) : null;
        }

        if (!AgentAssertion.TryParse(token, out var resourceId, out var issued, out var payload, out var signature)
            || (issued - time.GetUtcNow()).Duration() > AgentAssertion.MaxSkew)
        {
            return null;
        }

        var vmKey = resourceId.ToLowerInvariant();
        var entry = keys.Find(vmKey);
        if (entry is null || !AgentKeys.Verify(entry, payload, signature))
        {
            // Not kept, or the machine may hold another key by now: the store decides.
            if (await store.FindVmAgentKeyAsync(resourceId, cancellationToken) is not { } found)
            {
                keys.Forget(vmKey);
                return null;
            }

            if ((entry is not null && entry.PublicKey.AsSpan().SequenceEqual(found.PublicKey))
                || keys.Remember(found.Vm, found.PublicKey) is not { } read
                || !AgentKeys.Verify(entry = read, payload, signature))
            {
                return null;
            }
        }

        return (entry.Vm, entry.PublicKey, FirstUseAsync(replay.TryUseAsync(payload, issued, entry.Vm.Vm, entry.PublicKey, deferred, cancellationToken), keys, entry));
    }

    /// <summary>True for the assertion's first use; a machine found without the kept key is read again next time.</summary>
    private static async Task<bool> FirstUseAsync(Task<AgentAssertionOutcome> use, AgentKeys keys, AgentKeys.Entry entry)
    {
        var outcome = await use;
        if (outcome == AgentAssertionOutcome.CredentialGone)
        {
            keys.Forget(entry);
        }

        return outcome == AgentAssertionOutcome.FirstUse;
    }

    /// <summary>
    /// The agent credential that opened this request, as the store compares it with the machine's (a long poll's answer
    /// is read only while the machine still holds it: <see cref="IAgentWorkStore.ReadGoalStateAsync"/>): the public key
    /// a signed assertion verified with, else the hash of the bearer token. The assertion itself was checked when the
    /// request began; only the stored credential is compared again.
    /// </summary>
    public static AgentCredential Presented(Caller caller, string token) =>
        caller.AgentPublicKey is { } key ? new AgentCredential(null, key) : new AgentCredential(TokenService.Hash(token), null);

    private static async Task RefuseAsync(HttpContext http, ILogger logger, string code, string message)
    {
        Log.Unauthorized(logger, http.Request.Path, code);
        http.RequestServices.GetRequiredService<FailedAuthenticationThrottle>().RecordFailure(http.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        http.Response.Headers.WWWAuthenticate = "Bearer";
        await ArmResults.Error(StatusCodes.Status401Unauthorized, code, message).ExecuteAsync(http);
    }
}

public static class CallerExtensions
{
    public static Caller Caller(this HttpContext http) =>
        http.Items[typeof(Caller)] as Caller ?? throw new InvalidOperationException("The request was not authenticated.");
}
