using RunCommand.Server.Arm;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>Who made a request, as established by <see cref="BearerAuthentication"/>.</summary>
public sealed record Caller(string Kind, VmRecord? Vm = null)
{
    public const string Admin = "admin";
    public const string Agent = "agent";
    public const string Enrollment = "enrollment";
}

/// <summary>
/// Checks the bearer token of every request but the health check: the ARM API takes the admin token, the agent
/// API an agent's own token (enrollment takes the enrollment token). Failures are 401 with an ARM error body.
/// </summary>
public sealed class BearerAuthentication
{
    private readonly RequestDelegate _next;

    public BearerAuthentication(RequestDelegate next)
    {
        _next = next;
    }

    public async Task InvokeAsync(HttpContext http, TokenService tokens, IRunCommandStore store, ILogger<BearerAuthentication> logger)
    {
        var path = http.Request.Path;
        if (path.StartsWithSegments("/healthz"))
        {
            await _next(http);
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
            caller = tokens.IsEnrollment(token) ? new Caller(Caller.Enrollment) : null;
        }
        else if (path.StartsWithSegments("/agent"))
        {
            var vm = await store.FindVmByAgentTokenAsync(TokenService.Hash(token), http.RequestAborted);
            caller = vm is null ? null : new Caller(Caller.Agent, vm);
        }
        else if (tokens.IsAdmin(token))
        {
            caller = new Caller(Caller.Admin);
        }

        if (caller is null)
        {
            await RefuseAsync(http, logger, "InvalidAuthenticationToken", "Authentication failed. The access token is invalid, expired or revoked.");
            return;
        }

        http.Items[typeof(Caller)] = caller;
        await _next(http);
    }

    private static async Task RefuseAsync(HttpContext http, ILogger logger, string code, string message)
    {
        Log.Unauthorized(logger, http.Request.Path, code);
        http.Response.Headers.WWWAuthenticate = "Bearer";
        await ArmResults.Error(StatusCodes.Status401Unauthorized, code, message).ExecuteAsync(http);
    }
}

public static class CallerExtensions
{
    public static Caller Caller(this HttpContext http) =>
        http.Items[typeof(Caller)] as Caller ?? throw new InvalidOperationException("The request was not authenticated.");
}
