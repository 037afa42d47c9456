using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RunCommand.Contracts;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Tests;

/// <summary>The agent protocol's server side, just enough for protocol tests; bound to 127.0.0.1 only.</summary>
internal sealed class KestrelFakeServer : IAsyncDisposable
{
    public const string EnrollmentToken = "enroll-secret";
    public const string IssuedToken = "agent-token-1";

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version;
    private List<ExecutionAssignment> _assignments = [];

    private KestrelFakeServer(WebApplication app) => _app = app;

    public FakeServer Reports { get; } = new();

    public List<EnrollRequest> Enrollments { get; } = [];

    /// <summary>Token the goal state and report endpoints accept; anything else gets 401.</summary>
    public string AcceptedAgentToken { get; set; } = IssuedToken;

    /// <summary>
    /// When true, an enrollment with a public key gets no token, and calls must carry an assertion that verifies with
    /// that key for the enrolled machine. False: every enrollment gets <see cref="IssuedToken"/> (a server without keys).
    /// </summary>
    public bool AcceptKeys { get; set; }

    /// <summary>True: goal-state and report calls answer 503 with Retry-After, as a stopping server does.</summary>
    public bool Stopping
    {
        get => _stopping;
        set
        {
            _stopping = value;
            SetAssignments([.. _assignments]);
        }
    }

    private volatile bool _stopping;

    /// <summary>The poll length every goal state announces (<see cref="GoalState.PollSeconds"/>); null: none, as older servers.</summary>
    public int? AnnouncedPollSeconds { get; set; }

    /// <summary>The <c>waitSeconds</c> of every goal-state poll, in order (lock the list to read it).</summary>
    public List<int> AskedWaits { get; } = [];

    /// <summary>How many of the next goal-state polls answer 429 with <c>Retry-After: </c><see cref="BusyRetryAfterSeconds"/>, as a server shedding a herd.</summary>
    public int BusyPolls;

    public int BusyRetryAfterSeconds { get; set; } = 1;

    /// <summary>How many of the next goal-state polls answer 401, as a server does to an assertion it has seen before.</summary>
    public int RefusedPolls;

    /// <summary>The agent-version header of each goal-state poll, in order (null: none; lock the list to read it).</summary>
    public List<string?> PollAgentVersions { get; } = [];

    /// <summary>When each goal-state poll arrived (<see cref="System.Diagnostics.Stopwatch"/> timestamps; lock the list to read it).</summary>
    public List<long> PollArrivals { get; } = [];

    /// <summary>
    /// While not completed, every report waits for it before it is taken and answered, as a slow server's would
    /// (<see cref="ReportsArrived"/> counts them as they come in).
    /// </summary>
    public Task ReportsHeldUntil { get; set; } = Task.CompletedTask;

    /// <summary>How many report calls have arrived, answered or not.</summary>
    public int ReportsArrived => Volatile.Read(ref _reportsArrived);

    private int _reportsArrived;

    /// <summary>Every Authorization header a goal-state or report call carried.</summary>
    public List<string> AgentAuthorizations { get; } = [];

    private byte[]? _enrolledKey;
    private string? _enrolledId;

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<KestrelFakeServer> StartAsync(X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        var server = new KestrelFakeServer(app);
        server.Map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return server;
    }

    /// <summary>Replaces the goal state and wakes waiting polls.</summary>
    public void SetAssignments(params ExecutionAssignment[] assignments)
    {
        lock (_lock)
        {
            _assignments = [.. assignments];
            _version++;
            _changed.TrySetResult();
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private void Map(WebApplication app)
    {
        app.MapPost("/agent/v1/enroll", async context =>
        {
            if (context.Request.Headers.Authorization.ToString() != $"Bearer {EnrollmentToken}")
            {
                context.Response.StatusCode = 401;
                return;
            }

            var request = await JsonSerializer.DeserializeAsync(context.Request.Body, ContractsJsonContext.Default.EnrollRequest);
            lock (_lock)
            {
                Enrollments.Add(request!);
            }

            var id = $"/subscriptions/s/resourceGroups/{request!.ResourceGroup}/providers/Microsoft.Compute/virtualMachines/{request.VmName}";
            if (AcceptKeys && request.PublicKey is { } key)
            {
                _enrolledKey = Convert.FromBase64String(key);
                _enrolledId = id;
            }

            await context.Response.WriteAsJsonAsync(
                new EnrollResponse { AgentToken = _enrolledKey is null ? IssuedToken : null, VmResourceId = id },
                ContractsJsonContext.Default.EnrollResponse);
        });

        app.MapGet("/agent/v1/goalstate", async context =>
        {
            lock (PollArrivals)
            {
                PollArrivals.Add(System.Diagnostics.Stopwatch.GetTimestamp());
            }

            lock (PollAgentVersions)
            {
                PollAgentVersions.Add(context.Request.Headers.TryGetValue(AgentHeaders.Version, out var sent) ? sent.ToString() : null);
            }

            if (RefuseWhileStopping(context))
            {
                return;
            }

            if (Interlocked.Decrement(ref BusyPolls) >= 0)
            {
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = BusyRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return;
            }

            if (!Authorized(context) || Interlocked.Decrement(ref RefusedPolls) >= 0)
            {
                context.Response.StatusCode = 401;
                return;
            }

            var version = long.Parse(context.Request.Query["version"]!, System.Globalization.CultureInfo.InvariantCulture);
            var wait = int.Parse(context.Request.Query["waitSeconds"]!, System.Globalization.CultureInfo.InvariantCulture);
            lock (AskedWaits)
            {
                AskedWaits.Add(wait);
            }

            Task changed;
            lock (_lock)
            {
                // Same version: wait for a change (or the wait to expire); otherwise answer at once.
                changed = version == _version ? _changed.Task : Task.CompletedTask;
            }

            try
            {
                await changed.WaitAsync(TimeSpan.FromSeconds(wait), context.RequestAborted);
            }
            catch (TimeoutException)
            {
                // Long poll expired: answer with the same version.
            }

            GoalState goal;
            lock (_lock)
            {
                goal = new GoalState { Version = _version, Executions = [.. _assignments], PollSeconds = AnnouncedPollSeconds };
            }

            await context.Response.WriteAsJsonAsync(goal, ContractsJsonContext.Default.GoalState);
        });

        app.MapPost("/agent/v1/executions/{id}/report", async context =>
        {
            if (RefuseWhileStopping(context))
            {
                return;
            }

            if (!Authorized(context))
            {
                context.Response.StatusCode = 401;
                return;
            }

            Interlocked.Increment(ref _reportsArrived);
            await ReportsHeldUntil.WaitAsync(context.RequestAborted);
            var id = (string)context.Request.RouteValues["id"]!;
            var report = await JsonSerializer.DeserializeAsync(context.Request.Body, ContractsJsonContext.Default.ExecutionReport);
            var ack = await Reports.ReportAsync(id, report!, context.RequestAborted);
            await context.Response.WriteAsJsonAsync(ack, ContractsJsonContext.Default.ReportAck);
        });
    }

    private bool RefuseWhileStopping(HttpContext context)
    {
        if (!_stopping)
        {
            return false;
        }

        context.Response.StatusCode = 503;
        context.Response.Headers.RetryAfter = "1";
        return true;
    }

    private bool Authorized(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        lock (_lock)
        {
            AgentAuthorizations.Add(header);
        }

        if (_enrolledKey is null)
        {
            return header == $"Bearer {AcceptedAgentToken}";
        }

        return header.StartsWith("Bearer ", StringComparison.Ordinal)
            && AgentAssertion.TryParse(header[7..], out var id, out var issued, out var payload, out var signature)
            && id == _enrolledId
            && (issued - DateTimeOffset.UtcNow).Duration() < AgentAssertion.MaxSkew
            && AgentAssertion.Verify(_enrolledKey, payload, signature);
    }
}
