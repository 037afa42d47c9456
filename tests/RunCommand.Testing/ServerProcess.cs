using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace RunCommand.Testing;

/// <summary>
/// A real RunCommand server process on a free 127.0.0.1 port with its own data dir, on the backend
/// <see cref="TestStore.Current"/> names (SQLite in the data dir, or a PostgreSQL database of its own).
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private ServerProcess(ChildProcess process, string url, string dataDir)
    {
        Process = process;
        Url = url;
        DataDir = dataDir;
    }

    public ChildProcess Process { get; }

    public string Url { get; }

    public string DataDir { get; }

    public string AdminToken => File.ReadAllText(Path.Combine(DataDir, "admin.token")).Trim();

    public string EnrollTokenFile => Path.Combine(DataDir, "enroll.token");

    public string SubscriptionId => File.ReadAllText(Path.Combine(DataDir, "subscription.id")).Trim();

    public string CaCertFile => Path.Combine(DataDir, "tls.crt");

    public bool IsHttps => Url.StartsWith("https://", StringComparison.Ordinal);

    /// <summary>
    /// Starts a server and waits until it says it listens and answers <c>/healthz</c>. <paramref name="spawned"/> gets the
    /// process as soon as it exists, before that answer (a benchmark samples its CPU while it starts). Without
    /// <paramref name="port"/>, a free port is chosen; another test process may take the same one before this server binds
    /// it (the kernel hands a port freed by one to the next that asks), and then this one starts again on another.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string dataDir, bool https = false, IEnumerable<string>? extraArgs = null, int? port = null, IDictionary<string, string>? environment = null,
        Action<ChildProcess>? spawned = null, string? workingDirectory = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnAsync(port ?? FreePort(), dataDir, https, extraArgs, environment, spawned, workingDirectory);
            }
            catch (InvalidOperationException e) when (port is null && attempt < 3 && e.Message.Contains(CannotListen, StringComparison.Ordinal))
            {
                // The port was taken between FreePort and the server's bind: another one.
            }
        }
    }

    /// <summary>What the server prints when it cannot bind its address (Program.cs), and once it has bound it.</summary>
    private const string CannotListen = "error: cannot listen on ";
    private const string Listening = "RunCommand server listening on ";

    private static async Task<ServerProcess> StartOnAsync(int port, string dataDir, bool https, IEnumerable<string>? extraArgs, IDictionary<string, string>? environment,
        Action<ChildProcess>? spawned, string? workingDirectory)
    {
        var url = $"{(https ? "https" : "http")}://127.0.0.1:{port}";
        var args = new List<string> { "--urls", url, "--data-dir", dataDir };
        if (TestStore.Current == TestStore.Postgres && extraArgs?.Contains("--postgres") != true && environment?.ContainsKey("RUNCMD_POSTGRES") != true)
        {
            // One database per data dir: a server restarted on the same data dir finds its rows again.
            args.AddRange(["--postgres", await (await PostgresServer.SharedAsync()).EnsureDatabaseAsync(dataDir)]);
        }

        args.AddRange(extraArgs ?? []);
        // RUNCMD_TEST_SERVER names a published server to start instead of the development dll under dotnet: the
        // benchmarks run the shipped build (packaging/build.sh server: self-contained, ReadyToRun), as users do.
        var process = Environment.GetEnvironmentVariable("RUNCMD_TEST_SERVER") is { Length: > 0 } published
            ? ChildProcess.Start("server", published, args, environment, workingDirectory)
            : ChildProcess.StartDotnet("server", Repo.ServerDll, args, environment, workingDirectory);
        spawned?.Invoke(process);
        var server = new ServerProcess(process, url, dataDir);
        using var probe = server.CreateHttpClient(token: null);
        // Its own line first: a /healthz answer alone may come from another test's server that took the port, while this
        // one is failing to bind it.
        await process.WaitUntilStartedAsync(async () => process.Output.Contains(Listening, StringComparison.Ordinal)
                && (await probe.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), "the server to answer /healthz");
        return server;
    }

    /// <summary>An HttpClient for this server trusting its certificate, with the given bearer token (admin by default).</summary>
    public HttpClient CreateHttpClient(string? token = "admin")
    {
        var handler = new SocketsHttpHandler();
        if (IsHttps)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && File.Exists(CaCertFile) &&
                X509CertificateLoader.LoadCertificateFromFile(CaCertFile).Thumbprint == new X509Certificate2(certificate).Thumbprint;
        }

        var client = new HttpClient(handler) { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(100) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token == "admin" ? AdminToken : token);
        }

        return client;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync() => await Process.DisposeAsync();
}
