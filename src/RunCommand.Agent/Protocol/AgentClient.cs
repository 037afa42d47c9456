using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RunCommand.Agent.Execution;
using RunCommand.Agent.Metrics;
using RunCommand.Contracts;
using RunCommand.Contracts.Agents;
using Microsoft.Extensions.Logging;

namespace RunCommand.Agent.Protocol;

/// <summary>The server refused a credential (HTTP 401/403).</summary>
public sealed class AgentUnauthorizedException(int statusCode) : Exception($"The server answered HTTP {statusCode}.")
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>
/// The server is busy (429) or stopping (503, also a gateway's 502/504): the call may be retried, not before
/// <see cref="RetryAfter"/> when the server named a wait (its <c>Retry-After</c> header, seconds or a date).
/// </summary>
public sealed class ServerBusyException(HttpStatusCode status, TimeSpan? retryAfter)
    : HttpRequestException($"The server answered HTTP {(int)status}{(retryAfter is { } wait ? $", retry after {wait.TotalSeconds:0.#} s" : "")}.", null, status)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The wait a response's <c>Retry-After</c> names (delta seconds or an HTTP date), or null.</summary>
    public static TimeSpan? RetryAfterOf(HttpResponseMessage response, TimeProvider time) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - time.GetUtcNow() is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero,
        _ => null,
    };
}

/// <summary>
/// The agent protocol over HTTP(S) (docs/agent-protocol.md). Every body goes through
/// <see cref="ContractsJsonContext"/>: no reflection, NativeAOT-safe.
/// </summary>
public sealed class AgentClient : IExecutionReporter, IOutputUploader, IDisposable
{
    /// <summary>The goal-state wait the agent asks for until a server announces its own (<see cref="GoalState.PollSeconds"/>).</summary>
    public static readonly TimeSpan DefaultLongPollWait = TimeSpan.FromSeconds(30);

    /// <summary>The longest announced wait the agent follows (a server saying more is taken as this).</summary>
    public static readonly TimeSpan MaxLongPollWait = TimeSpan.FromMinutes(30);

    /// <summary>How long any call may take beyond the wait it asked the server for, before it counts as failed.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Longest wait for a node's TCP connect: a node that does not take connections (down, or its backlog full) is left
    /// for the next one (or the back-off) quickly.
    /// </summary>
    public static readonly TimeSpan TcpConnectTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Longest wait for a connection, TCP and TLS handshake together. A node that took the connection is alive: a
    /// restarted server facing a whole fleet at once lets connections into their handshakes in arrival order
    /// (the server's connection admission), and the rest wait, accepted, at no cost to either side. A client that
    /// gives up sooner throws away its place and the work already done for it, and queues again (a "timeout" storm
    /// once kept a 10,000-agent fleet from reconnecting for 90 s; a server that sheds the queue's old end costs each
    /// shed agent a new handshake attempt). Kestrel's own 10 s handshake limit starts only once a connection is let
    /// in. The server sheds a connection that waited 25 s for its turn (the admission's longest wait), so this
    /// leaves 5 s for the handshake itself; a node behind a proxy that takes TCP but never shakes hands is left after 30 s.
    /// </summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a silent connection may go before the kernel probes the peer, and then how often: a node whose machine
    /// vanished (no RST, no FIN) is noticed within about <c>idle + probes x interval</c> = 4 s, even during a long poll.
    /// </summary>
    private static readonly TimeSpan KeepAliveIdle = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(1);
    private const int KeepAliveProbes = 2;

    private readonly HttpClient _http;
    private readonly ILogger? _logger;

    public AgentClient(Uri server, X509Certificate2? caCertificate, byte[]? serverFingerprint = null)
        : this(new ServerEndpoints([server]), caCertificate, serverFingerprint)
    {
    }

    public AgentClient(ServerEndpoints servers, X509Certificate2? caCertificate, byte[]? serverFingerprint = null, ILogger? logger = null)
    {
        Servers = servers;
        _logger = logger;
        var handler = new SocketsHttpHandler
        {
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            // TCP connect and TLS handshake together; the TCP connect alone has its own short limit (ConnectWithKeepAliveAsync).
            ConnectTimeout = ConnectTimeout,
            ConnectCallback = ConnectWithKeepAliveAsync,
        };
        if (serverFingerprint is not null)
        {
            // Pinned: exactly the certificate with this SHA-256, whatever its chain or name says.
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = PinnedChainPolicy(null),
                RemoteCertificateValidationCallback = (_, certificate, _, _) => MatchesFingerprint(certificate, serverFingerprint),
            };
        }
        else if (caCertificate is not null)
        {
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = PinnedChainPolicy(caCertificate),
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                    IsTrusted(certificate, chain, errors, caCertificate),
            };
        }

        // Each call has its own timeout (SendAsync): a long poll's outlasts the wait it asked for.
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>
    /// The goal-state wait this agent asks for: the last one a server announced (<see cref="GoalState.PollSeconds"/>,
    /// at most <see cref="MaxLongPollWait"/>), <see cref="DefaultLongPollWait"/> before any.
    /// </summary>
    public TimeSpan LongPollWait { get; private set; } = DefaultLongPollWait;

    /// <summary>The nodes this agent talks to, and the one it uses now.</summary>
    public ServerEndpoints Servers { get; }

    /// <summary>What this agent counts (served by <c>--metrics-listen</c>).</summary>
    public AgentMetrics Metrics { get; } = new();

    /// <summary>The agent's own bearer token (set after loading or enrolling); secret, never logged.</summary>
    public string? AgentToken { get; set; }

    /// <summary>
    /// How long after a call beside the polls (a report, an upload) its keep-alive connection is taken to be still open:
    /// well inside the agent's own idle limit (2 minutes) and Kestrel's (130 s).
    /// </summary>
    public static readonly TimeSpan SideConnectionWarmFor = TimeSpan.FromSeconds(60);

    private const long NoSideCallYet = long.MinValue;

    /// <summary>When the last call beside the polls completed (<see cref="Environment.TickCount64"/>).</summary>
    private long _lastSideCall = NoSideCallYet;

    private const string EnrollPath = "agent/v1/enroll";

    /// <summary>
    /// True while a call other than a goal-state poll completed within <see cref="SideConnectionWarmFor"/>: beside a
    /// held poll the next such call finds that connection open, with no new handshake (docs/agent-protocol.md, "Connections").
    /// </summary>
    public bool SideConnectionWarm
    {
        get
        {
            // Compared with NoSideCallYet first: now minus long.MinValue would overflow to a negative span, i.e. "warm".
            var last = Interlocked.Read(ref _lastSideCall);
            return last != NoSideCallYet && Environment.TickCount64 - last < (long)SideConnectionWarmFor.TotalMilliseconds;
        }
    }

    /// <summary>The agent's key credential; when set, every call carries a signed assertion instead of <see cref="AgentToken"/>.</summary>
    public AgentKeyCredential? AgentKey { get; set; }

    /// <summary>
    /// The policy of the chain the TLS handshake builds before the validation callback runs, when the agent trusts a
    /// certificate of its own (<c>--ca-cert</c>, or none at all with <c>--server-fingerprint</c>): that certificate as the
    /// only root, nothing fetched, no revocation. With the default policy every reconnection matched the server's
    /// certificate against the whole system store, about a fifth of the agent's CPU for a handshake (docs/performance.md,
    /// item 35); the system store never decided anything here.
    /// </summary>
    internal static X509ChainPolicy PinnedChainPolicy(X509Certificate2? root)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        if (root is not null)
        {
            policy.CustomTrustStore.Add(root);
        }

        return policy;
    }

    /// <summary>True when the certificate's DER encoding has this SHA-256 (compared in constant time).</summary>
    internal static bool MatchesFingerprint(X509Certificate? certificate, byte[] fingerprint) =>
        certificate is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), fingerprint);

    /// <summary>Parses a SHA-256 fingerprint: 64 hex digits, colons and spaces allowed, optional "sha256:" prefix.</summary>
    public static byte[]? ParseFingerprint(string text)
    {
        var hex = text.Trim();
        if (hex.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            hex = hex[7..];
        }

        hex = hex.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        if (hex.Length != 64)
        {
            return null;
        }

        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Trusts exactly the given certificate: the server's certificate equals it (pinned self-signed cert), or
    /// chains to it as the only root. The system store plays no part.
    /// </summary>
    internal static bool IsTrusted(X509Certificate? certificate, X509Chain? presentedChain, SslPolicyErrors errors, X509Certificate2 trusted)
    {
        if (certificate is null)
        {
            return false;
        }

        using var server = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (server.RawDataMemory.Span.SequenceEqual(trusted.RawDataMemory.Span))
        {
            return true;
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presentedChain is not null)
        {
            foreach (var element in presentedChain.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(server);
    }

    public async Task<EnrollResponse> EnrollAsync(string enrollmentToken, EnrollRequest request, CancellationToken cancellationToken)
    {
        return await SendAsync(HttpMethod.Post, EnrollPath, message =>
        {
            message.Content = JsonContent.Create(request, ContractsJsonContext.Default.EnrollRequest);
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", enrollmentToken);
        }, async (response, ct) =>
        {
            ThrowIfUnauthorized(response);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollResponse, ct)
                ?? throw new HttpRequestException("Empty enrollment answer.");
        }, cancellationToken);
    }

    /// <summary>
    /// The version the next goal-state poll tells the server (<see cref="AgentHeaders.Version"/>); cleared once a poll
    /// is answered. Null: nothing to tell (the enrollment carried it).
    /// </summary>
    public string? VersionToReport { get; set; }

    public async Task<GoalState> GetGoalStateAsync(long version, TimeSpan wait, CancellationToken cancellationToken)
    {
        var uri = $"agent/v1/goalstate?version={version}&waitSeconds={(int)wait.TotalSeconds}";
        var reporting = VersionToReport;
        try
        {
            var goalState = await SendAsync(HttpMethod.Get, uri, message =>
            {
                Authorize(message);
                if (reporting is not null)
                {
                    message.Headers.TryAddWithoutValidation(AgentHeaders.Version, reporting);
                }
            }, async (response, ct) =>
            {
                ThrowIfUnauthorized(response);
                response.EnsureSuccessStatusCode();
                return await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.GoalState, ct)
                    ?? throw new HttpRequestException("Empty goal state.");
            }, cancellationToken, wait + CallTimeout);
            if (goalState.PollSeconds is > 0 and var seconds)
            {
                var announced = TimeSpan.FromSeconds(seconds);
                LongPollWait = announced < MaxLongPollWait ? announced : MaxLongPollWait;
            }

            if (reporting is not null)
            {
                VersionToReport = null;
            }

            Metrics.PollSucceeded();
            return goalState;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            Metrics.PollFailed();
            throw;
        }
    }

    public async Task<ReportAck> ReportAsync(string executionId, ExecutionReport report, CancellationToken cancellationToken)
    {
        try
        {
            var ack = await SendReportAsync(executionId, report, cancellationToken);
            Metrics.ReportAcknowledged(report);
            return ack;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            Metrics.ReportFailed();
            throw;
        }
    }

    private async Task<ReportAck> SendReportAsync(string executionId, ExecutionReport report, CancellationToken cancellationToken)
    {
        return await SendAsync(HttpMethod.Post, $"agent/v1/executions/{Uri.EscapeDataString(executionId)}/report", message =>
        {
            Authorize(message);
            message.Content = JsonContent.Create(report, ContractsJsonContext.Default.ExecutionReport);
        }, async (response, ct) =>
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new ExecutionNotFoundException(executionId);
            }

            ThrowIfUnauthorized(response);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ReportAck, ct)
                ?? throw new HttpRequestException("Empty report answer.");
        }, cancellationToken);
    }

    /// <summary>
    /// Tells the server the agent deleted its files of an execution from the goal state's <c>forget</c> list. A 404
    /// (already taken off, e.g. by another node) is success too.
    /// </summary>
    public async Task AcknowledgeForgottenAsync(string executionId, CancellationToken cancellationToken) =>
        await SendAsync(HttpMethod.Delete, $"agent/v1/executions/{Uri.EscapeDataString(executionId)}", Authorize, (response, _) =>
        {
            ThrowIfUnauthorized(response);
            if (response.StatusCode != HttpStatusCode.NotFound)
            {
                response.EnsureSuccessStatusCode();
            }

            return Task.FromResult(true);
        }, cancellationToken);

    /// <summary>Tells the server this agent is stopping: the machine shows Disconnected at once (204).</summary>
    public async Task SignOffAsync(CancellationToken cancellationToken)
    {
        await SendAsync(HttpMethod.Post, "agent/v1/signoff", Authorize, (response, _) =>
        {
            ThrowIfUnauthorized(response);
            response.EnsureSuccessStatusCode();
            return Task.FromResult(true);
        }, cancellationToken);
    }

    public async Task<ReportAck> UploadOutputAsync(string executionId, string stream, string path, long offset, long length, CancellationToken cancellationToken)
    {
        return await SendAsync(HttpMethod.Put, OutputUpload.Path(executionId, stream, offset), message =>
        {
            Authorize(message);
            message.Content = new FileRangeContent(path, offset, length);
        }, async (response, ct) =>
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new ExecutionNotFoundException(executionId);
            }

            ThrowIfUnauthorized(response);
            if (response.StatusCode != HttpStatusCode.Conflict)
            {
                // 409 is a refused gap: its body is an acknowledgement like any other.
                response.EnsureSuccessStatusCode();
            }

            var ack = await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ReportAck, ct)
                ?? throw new HttpRequestException("Empty upload answer.");
            if (response.StatusCode != HttpStatusCode.Conflict)
            {
                Metrics.OutputUploaded(stream, offset, ack);
            }

            return ack;
        }, cancellationToken);
    }

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// Sends one call to the current node and reads its answer. When the node is gone (see <see cref="IsNodeGone"/>)
    /// the agent moves on to the next node before the failure reaches the caller, whose retry then goes there.
    /// </summary>
    private async Task<T> SendAsync<T>(HttpMethod method, string relativeUri, Action<HttpRequestMessage> prepare,
        Func<HttpResponseMessage, CancellationToken, Task<T>> read, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var server = Servers.Current;
        try
        {
            using var message = new HttpRequestMessage(method, ServerEndpoints.Resolve(server, relativeUri));
            prepare(message);
            // SocketsHttpHandler sends a request without content again, headers and all, when its kept-alive connection
            // ends before any byte of the answer: what every held poll meets when its server is killed. A signed
            // assertion is good for one use, so the copy would be refused as a replay (401). An empty body (Content-Length:
            // 0) is never sent again: the failure reaches the caller, whose retry signs a new assertion
            // (docs/agent-protocol.md, "Replay").
            message.Content ??= new ByteArrayContent([]);
            using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutSource.CancelAfter(timeout ?? CallTimeout);
            using var response = await _http.SendAsync(message, timeoutSource.Token);
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)
            {
                // A busy node (429), a stopping one (503) or a load balancer without a live node behind it: retried
                // after the wait it names, if any (Backoff.Next).
                throw new ServerBusyException(response.StatusCode, ServerBusyException.RetryAfterOf(response, TimeProvider.System));
            }

            var result = await read(response, timeoutSource.Token);
            Servers.Succeeded();
            if (method != HttpMethod.Get && relativeUri != EnrollPath)
            {
                // Every call but the goal-state poll is a POST, PUT or DELETE. Not the enrollment: the first poll takes
                // its connection, so no other one is left open by it.
                Interlocked.Exchange(ref _lastSideCall, Environment.TickCount64);
            }

            return result;
        }
        catch (Exception e) when (IsNodeGone(e, cancellationToken))
        {
            var next = Servers.MoveOn(server);
            if (_logger is not null && next != server)
            {
                Log.MovingToServer(_logger, server.GetLeftPart(UriPartial.Authority), FailureKindFilter.KindOf(e), next.GetLeftPart(UriPartial.Authority));
            }

            throw;
        }
    }

    /// <summary>
    /// True when a call failed because its node is gone or stopping, not because of what was asked: no connection,
    /// a connection cut mid-answer, no answer in time, or 502/503/504. Any node may serve the retry.
    /// </summary>
    internal static bool IsNodeGone(Exception e, CancellationToken cancellationToken) => e switch
    {
        _ when cancellationToken.IsCancellationRequested => false,
        HttpRequestException { StatusCode: null } => true,
        HttpRequestException { StatusCode: HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout } => true,
        IOException or TaskCanceledException or TimeoutException => true,
        _ => false,
    };

    private void Authorize(HttpRequestMessage message) =>
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AgentKey?.Assertion() ?? AgentToken);

    /// <summary>Opens a TCP connection with keep-alive probes, so a vanished peer fails the call instead of hanging it.</summary>
    private static async ValueTask<Stream> ConnectWithKeepAliveAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)KeepAliveIdle.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)KeepAliveInterval.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, KeepAliveProbes);
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(TcpConnectTimeout);
            await socket.ConnectAsync(context.DnsEndPoint, connectTimeout.Token);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"No TCP connection to {context.DnsEndPoint.Host}:{context.DnsEndPoint.Port} within {TcpConnectTimeout.TotalSeconds:0} s.", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void ThrowIfUnauthorized(HttpResponseMessage response)
    {
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new AgentUnauthorizedException((int)response.StatusCode);
        }
    }
}
