using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RunCommand.Agent.Execution;
using RunCommand.Contracts;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Protocol;

/// <summary>The server refused a credential (HTTP 401/403).</summary>
public sealed class AgentUnauthorizedException(int statusCode) : Exception($"The server answered HTTP {statusCode}.")
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>
/// The agent protocol over HTTP(S) (docs/agent-protocol.md). Every body goes through
/// <see cref="ContractsJsonContext"/>: no reflection, NativeAOT-safe.
/// </summary>
public sealed class AgentClient : IExecutionReporter, IDisposable
{
    /// <summary>Longest goal-state wait the agent asks for; the HTTP timeout is longer than this.</summary>
    public static readonly TimeSpan LongPollWait = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http;

    public AgentClient(Uri server, X509Certificate2? caCertificate, byte[]? serverFingerprint = null)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(15),
        };
        if (serverFingerprint is not null)
        {
            // Pinned: exactly the certificate with this SHA-256, whatever its chain or name says.
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => MatchesFingerprint(certificate, serverFingerprint),
            };
        }
        else if (caCertificate is not null)
        {
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                    IsTrusted(certificate, chain, errors, caCertificate),
            };
        }

        _http = new HttpClient(handler)
        {
            BaseAddress = server,
            // Must outlast the long poll, or every idle wait would end as a timeout.
            Timeout = LongPollWait + TimeSpan.FromSeconds(30),
        };
    }

    /// <summary>The agent's own bearer token (set after loading or enrolling); secret, never logged.</summary>
    public string? AgentToken { get; set; }

    /// <summary>The agent's key credential; when set, every call carries a signed assertion instead of <see cref="AgentToken"/>.</summary>
    public AgentKeyCredential? AgentKey { get; set; }

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
        using var message = new HttpRequestMessage(HttpMethod.Post, "agent/v1/enroll")
        {
            Content = JsonContent.Create(request, ContractsJsonContext.Default.EnrollRequest),
        };
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", enrollmentToken);
        using var response = await _http.SendAsync(message, cancellationToken);
        ThrowIfUnauthorized(response);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollResponse, cancellationToken)
            ?? throw new HttpRequestException("Empty enrollment answer.");
    }

    public async Task<GoalState> GetGoalStateAsync(long version, TimeSpan wait, CancellationToken cancellationToken)
    {
        var uri = $"agent/v1/goalstate?version={version}&waitSeconds={(int)wait.TotalSeconds}";
        using var message = Authorized(HttpMethod.Get, uri);
        using var response = await _http.SendAsync(message, cancellationToken);
        ThrowIfUnauthorized(response);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.GoalState, cancellationToken)
            ?? throw new HttpRequestException("Empty goal state.");
    }

    public async Task<ReportAck> ReportAsync(string executionId, ExecutionReport report, CancellationToken cancellationToken)
    {
        using var message = Authorized(HttpMethod.Post, $"agent/v1/executions/{Uri.EscapeDataString(executionId)}/report");
        message.Content = JsonContent.Create(report, ContractsJsonContext.Default.ExecutionReport);
        using var response = await _http.SendAsync(message, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ExecutionNotFoundException(executionId);
        }

        ThrowIfUnauthorized(response);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ReportAck, cancellationToken)
            ?? throw new HttpRequestException("Empty report answer.");
    }

    public void Dispose() => _http.Dispose();

    private HttpRequestMessage Authorized(HttpMethod method, string uri)
    {
        var message = new HttpRequestMessage(method, uri);
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AgentKey?.Assertion() ?? AgentToken);
        return message;
    }

    private static void ThrowIfUnauthorized(HttpResponseMessage response)
    {
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new AgentUnauthorizedException((int)response.StatusCode);
        }
    }
}
