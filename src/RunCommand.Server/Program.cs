using System.Reflection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Prometheus;
using RunCommand.Server;
using RunCommand.Server.Agents;
using RunCommand.Server.Arm;
using RunCommand.Server.Arm.ActionRuns;
using RunCommand.Server.Arm.Documents;
using RunCommand.Server.Auth;
using RunCommand.Server.Deployments;
using RunCommand.Server.Fleet;
using RunCommand.Server.Hosting;
using RunCommand.Server.Portal;
using RunCommand.Server.Secrets;
using RunCommand.Storage;
using RunCommand.Storage.Postgres;
using RunCommand.Storage.Sqlite;

if (args is ["--version"])
{
    // The one version from Directory.Build.props, as the CLI and the agent print it.
    Console.WriteLine(typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);
    return 0;
}

try
{
    // --config FILE (the package's /etc/runcmd/server.conf): its settings as options, the command line winning.
    args = RunCommand.Contracts.ConfigFile.Expand(args);
}
catch (FormatException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

if (args.Any(a => a is "--help" or "-h" or "-?"))
{
    Console.WriteLine("""
        Usage: runcmd server [options]

        Runs the RunCommand control plane: the ARM run command API and the agent protocol.

        Options:
          --urls URL                     Where to listen (default http://127.0.0.1:5080). https:// URLs use
                                         --tls-cert/--tls-key, or a self-signed certificate made in the data dir.
          --data-dir DIR                 Database, tokens, TLS files and the secrets key (default ~/.runcmd).
          --postgres "CONNECTION"        Keep everything in this PostgreSQL database (an Npgsql connection string,
                                         e.g. "Host=db;Database=runcmd;Username=runcmd") instead of SQLite in the
                                         data dir; nodes sharing it serve the same resources. Also RUNCMD_POSTGRES,
                                         which keeps a password off the command line (or use Passfile=...).
          --tls-cert FILE --tls-key FILE PEM certificate and key for https.
          --location NAME                Location of every resource (default local).
          --subscription GUID            Subscription id (default: generated once, kept in the data dir).
          --max-run-commands-per-vm N    Limit of run commands per VM (default 25).
          --secrets-key-file FILE        32-byte key sealing secrets (default <data-dir>/secrets.key); every
                                         node sharing one database needs a copy of the same file.
          --durable-commits true         fsync every database commit: survives power cuts, costs latency.
          --execution-retention-days N   Delete finished executions and their output N days after they ended
                                         (default 30, as the agent's option of the same name). Deleting a run
                                         command deletes its output at once, on the server and on its agent.
          --max-output-bytes N           Keep at most N bytes of output; beyond it the output of the executions
                                         that ended first goes (default 17179869184, 16 GiB).
          --retention-interval HH:MM:SS  Time between retention passes (default 01:00:00).
          --agent-binaries-dir DIR       Agent builds served at /agent/download/PLATFORM and used by /agent/install.sh
                                         (DIR/linux-x64/runcmd-agent, ...; default under ./runcmd: the checkout's
                                         dist/, where packaging/build.sh makes them).
          --config FILE                  Read settings from FILE, one "name = value" a line (name: an option above
                                         without "--"); the command line wins. The package uses /etc/runcmd/server.conf.
          --requests-per-second N        Sustained requests per second per principal (default 50), burst
                                         --request-burst N (default 500); beyond it: 429 with Retry-After.

          --version                      Print the version and exit.

        The web portal is served at /portal (/ redirects there); --portal-dir DIR serves its built files from DIR.

        On first start the server writes <data-dir>/admin.token (API) and <data-dir>/enroll.token (agents), mode 0600.
        """);
    return 0;
}

var switches = new Dictionary<string, string>
{
    ["--urls"] = "urls",
    ["--data-dir"] = $"{ServerOptions.Section}:{nameof(ServerOptions.DataDir)}",
    ["--postgres"] = $"{ServerOptions.Section}:{nameof(ServerOptions.Postgres)}",
    ["--tls-cert"] = $"{ServerOptions.Section}:{nameof(ServerOptions.TlsCertFile)}",
    ["--tls-key"] = $"{ServerOptions.Section}:{nameof(ServerOptions.TlsKeyFile)}",
    ["--location"] = $"{ServerOptions.Section}:{nameof(ServerOptions.Location)}",
    ["--subscription"] = $"{ServerOptions.Section}:{nameof(ServerOptions.SubscriptionId)}",
    ["--max-run-commands-per-vm"] = $"{ServerOptions.Section}:{nameof(ServerOptions.MaxRunCommandsPerVm)}",
    ["--durable-commits"] = $"{ServerOptions.Section}:{nameof(ServerOptions.DurableCommits)}",
    ["--execution-retention-days"] = $"{ServerOptions.Section}:{nameof(ServerOptions.ExecutionRetentionDays)}",
    ["--max-output-bytes"] = $"{ServerOptions.Section}:{nameof(ServerOptions.MaxOutputBytes)}",
    ["--retention-interval"] = $"{ServerOptions.Section}:{nameof(ServerOptions.RetentionInterval)}",
    ["--secrets-key-file"] = $"{ServerOptions.Section}:{nameof(ServerOptions.SecretsKeyFile)}",
    ["--requests-per-second"] = $"{ServerOptions.Section}:{nameof(ServerOptions.RequestsPerSecond)}",
    ["--request-burst"] = $"{ServerOptions.Section}:{nameof(ServerOptions.RequestBurst)}",
    ["--agent-binaries-dir"] = $"{ServerOptions.Section}:{nameof(ServerOptions.AgentBinariesDir)}",
    ["--portal-dir"] = $"{ServerOptions.Section}:{nameof(ServerOptions.PortalDir)}",
};
if (ServerCommandLine.FindError(args, switches) is { } commandLineError)
{
    Console.Error.WriteLine("error: " + commandLineError);
    return 2;
}

// The content root is the server's own directory, not the one it was started in, and no configuration file is watched:
// ASP.NET watches its content root for appsettings.json changes with an inotify watch on every directory under it, so a
// server started in / (systemd's default) placed 51,171 watches and took 10 s to start (docs/performance.md, item 44).
// Settings come from the command line, which a --config file is read into once at start (and from DOTNET_ variables).
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
{
    Args = ["--hostBuilder:reloadConfigOnChange=false"],
    ContentRootPath = AppContext.BaseDirectory,
});
builder.Configuration.AddCommandLine(args, switches);

var urls = builder.Configuration["urls"] ?? "http://127.0.0.1:5080";
builder.WebHost.UseUrls(urls.Split(';', StringSplitOptions.RemoveEmptyEntries));
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});
builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
// The host logs a failed start (a port in use) with its stack trace, and the catch below says it in one line; a crashed
// background service still shows, in the host's critical line that stops the server.
builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

builder.Services.AddOptions<ServerOptions>().BindConfiguration(ServerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
if (ServerCommandLine.BindSettings(builder.Configuration, out var options) is { } settingsError)
{
    // Before anything resolves the options: a value out of range stops the start with its rule, not a stack trace.
    Console.Error.WriteLine("error: invalid settings: " + settingsError);
    return 2;
}

if (options.SubscriptionId is { } configured && !Guid.TryParse(configured, out _))
{
    Console.Error.WriteLine($"error: --subscription must be a GUID; got '{configured}'.");
    return 2;
}

var postgres = options.Postgres ?? Environment.GetEnvironmentVariable("RUNCMD_POSTGRES");
if (postgres is not null && !StorageChoice.IsValidPostgres(postgres, out var postgresError))
{
    // The string may hold a password: say what is wrong with it, never echo it.
    Console.Error.WriteLine($"error: --postgres / RUNCMD_POSTGRES is not a valid Npgsql connection string: {postgresError}");
    return 2;
}

var dataDir = new DataDirectory(options.DataDir);
dataDir.EnsureExists();
// The subscription is settled with the database below, before anything resolves the identity.
var identity = new ServerIdentity(dataDir.ResolveSubscription(options.SubscriptionId), options.Location);

System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null;
if (urls.Contains("https://", StringComparison.OrdinalIgnoreCase))
{
    certificate = dataDir.LoadOrCreateCertificate(options.TlsCertFile, options.TlsKeyFile);

    // The slim builder leaves https address binding out; without this Kestrel refuses https:// URLs at start.
    builder.WebHost.UseKestrelHttpsConfiguration();
    builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(h => h.ServerCertificate = certificate));
}

// A fleet reconnecting after a restart must not overflow the kernel's queue of connections not yet accepted, and is
// let into its TLS handshakes a few at a time, in order (ConnectionAdmission).
ConnectionBacklog.Configure(builder.WebHost);
var admission = new ConnectionAdmission(ConnectionAdmission.DefaultSlots, ConnectionAdmission.LongestHold, ConnectionAdmission.LongestWait, TimeProvider.System);
builder.WebHost.ConfigureKestrel(k =>
{
    // The application enforces the real limits with ARM errors (HttpLimits); Kestrel's are the last resort beyond them.
    k.Limits.MaxRequestBodySize = HttpLimits.MaxBodyBytes;
    k.Limits.MaxRequestLineSize = HttpLimits.KestrelRequestLineBytes;
    k.Limits.MaxRequestHeadersTotalSize = HttpLimits.KestrelHeaderBytes;
    k.AddServerHeader = false;
    // New connections are let into their handshake in order (outermost, before TLS); a NUL byte in the request line
    // gets an ARM error with the security headers, not Kestrel's bare 400.
    k.ConfigureEndpointDefaults(listen =>
    {
        listen.Use(admission.Wrap);
        listen.Use(NulRequestLineGuard.Wrap);
    });
});

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton(admission);
builder.Services.AddSingleton(dataDir);
builder.Services.AddSingleton(_ => identity);
// Run from a checkout (./runcmd server sets RUNCMD_ROOT): the agent builds packaging/build.sh left in dist/.
var agentBinaries = options.AgentBinariesDir
    ?? (Environment.GetEnvironmentVariable("RUNCMD_ROOT") is { } checkout && Directory.Exists(Path.Combine(checkout, "dist")) ? Path.Combine(checkout, "dist") : null);
builder.Services.AddSingleton(new AgentDistribution(agentBinaries, certificate));
builder.Services.AddSingleton<IChangeFeed, InProcessChangeFeed>();
builder.Services.AddRunCommandStorage(sp => postgres is not null
    ? new PostgresBackend(postgres, sp.GetRequiredService<IChangeFeed>())
    : new SqliteBackend(dataDir.DatabaseFile, sp.GetRequiredService<IChangeFeed>(), options.DurableCommits));
var secretsKeyFile = options.SecretsKeyFile ?? dataDir.SecretsKeyFile;
builder.Services.AddSingleton(_ => SecretProtector.FromKeyFile(secretsKeyFile));
builder.Services.AddSingleton<TokenService>();
builder.Services.AddSingleton<Authorizer>();
builder.Services.AddSingleton<FailedAuthenticationThrottle>();
builder.Services.AddSingleton<AgentAssertionReplay>();
builder.Services.AddSingleton<AgentKeys>();
builder.Services.AddRateLimiter(limiter => RateLimits.Configure(limiter, options));
builder.Services.AddSingleton<LongPolls>();
builder.Services.AddSingleton<WorkLeases>();
builder.Services.AddSingleton<AgentPresence>();
builder.Services.AddHostedService<AgentPresenceWriter>();
builder.Services.AddSingleton<ServerMetrics>();
builder.Services.AddOpenApi();
builder.Services.AddSingleton<RunCommandViews>();
builder.Services.AddSingleton<CommandDocuments>();
builder.Services.AddSingleton<RunCommandService>();
builder.Services.AddSingleton<DeploymentRunner>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<DeploymentRunner>());
builder.Services.AddSingleton<FleetService>();
builder.Services.AddHostedService<FleetOrchestrator>();
builder.Services.AddHostedService<ChangeRelay>();
builder.Services.AddSingleton<Retention>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<Retention>());

var app = builder.Build();

var logger = app.Services.GetRequiredService<ILogger<ServerOptions>>();
// Every node runs this at start; the backend's migration lock makes a node starting at the same moment wait, not migrate twice.
var storage = app.Services.GetRequiredService<RunCommandStorage>();
await storage.MigrateAsync(CancellationToken.None);
var readiness = await storage.CheckReadinessAsync(CancellationToken.None);
var identityStore = app.Services.GetRequiredService<IIdentityStore>();
if (await SecretsKeyCheck.VerifyAsync(secretsKeyFile, identityStore, CancellationToken.None) is { } keyProblem)
{
    Console.Error.WriteLine("error: " + keyProblem);
    return 2;
}

_ = app.Services.GetRequiredService<SecretProtector>();
var (subscription, subscriptionProblem) = await SharedSubscription.AgreeAsync(identityStore, dataDir, options.SubscriptionId, CancellationToken.None);
if (subscription is null)
{
    Console.Error.WriteLine("error: " + subscriptionProblem);
    return 2;
}

identity = identity with { SubscriptionId = subscription };
// The SQLite database lives in the data dir (removing a token file there rotates the token); PostgreSQL is shared.
await app.Services.GetRequiredService<TokenService>().EnsureWellKnownTokensAsync(dataDir, databaseIsLocal: postgres is null, logger, CancellationToken.None);
_ = app.Services.GetRequiredService<ServerMetrics>();

// Order matters: routing first (the activity log and authorization read the endpoint's action), the activity log
// outside error handling (it sees the final status), then authentication, the per-caller rate limit, authorization.
app.Use(ConnectionAdmission.ReleaseOnRequest);
app.UsePortal();
app.UseRouting();
app.UseHttpMetrics();
app.UseMiddleware<ActivityLogRecorder>();
app.UseMiddleware<ArmErrorHandling>();
app.UseMiddleware<HttpLimits>();
app.UseMiddleware<BearerAuthentication>();
app.UseRateLimiter();
app.UseMiddleware<ArmAuthorization>();
app.MapRunCommands();
app.MapVirtualMachines();
app.MapCommandDocuments();
app.MapActionRuns();
app.MapDeployments();
app.MapFleetRuns();
app.MapAgentProtocol();
app.MapAgentDistribution();
app.MapOperations(dataDir);
app.MapIdentity();
app.MapEnrollmentTokens();
app.MapRoles();
app.MapPermissions();
app.MapActivityLog();
app.MapFallback((HttpContext http) => ArmResults.Error(StatusCodes.Status404NotFound, "InvalidResourceType",
    $"No API is served at '{http.Request.Method} {http.Request.Path}'.")).AllowAnyAuthenticatedCaller();

app.Lifetime.ApplicationStarted.Register(() =>
{
    Log.Started(logger, urls, dataDir.Path, identity.SubscriptionId, identity.Location);
    Log.StorageReady(logger, storage.Backend.Name, readiness.SchemaVersion);
    if (certificate is not null)
    {
        Log.Tls(logger, certificate.Subject, certificate.Thumbprint, certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256),
            options.TlsCertFile ?? dataDir.TlsCertFile);
    }
});

try
{
    await StartOrStopAsync(app);
    await app.WaitForShutdownAsync();
    return 0;
}
catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
{
    Console.Error.WriteLine($"error: cannot listen on {urls}: {e.Message}");
    return 1;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine("error: invalid settings: " + string.Join("; ", e.Failures));
    return 2;
}
catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or FormatException)
{
    Console.Error.WriteLine("error: the server could not start: " + e.Message);
    return 1;
}
finally
{
    await app.DisposeAsync();
}

// A start that fails (the port taken, a bad certificate) leaves running the background services that started before
// the web server; disposing the host would then take the storage from under them, and one would fail on a disposed
// store with a stack trace. They are stopped first, as a shutdown stops them, and the start's own error is reported.
static async Task StartOrStopAsync(WebApplication app)
{
    try
    {
        await app.StartAsync();
    }
    catch
    {
        try
        {
            // Bounded by the host's own shutdown timeout, as any stop is.
            await app.StopAsync();
        }
        catch (Exception e) when (e is OperationCanceledException or AggregateException)
        {
            // A service slow or failing to stop: the failed start is what the operator needs to read.
        }

        throw;
    }
}
