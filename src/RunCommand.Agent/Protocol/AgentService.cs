using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Protocol;

/// <summary>The agent's life: enroll once, pick up what a previous run left, then long-poll and reconcile.</summary>
public sealed class AgentService(AgentOptions options, AgentClient client, TimeProvider time, ILogger logger)
{
    /// <summary>Process exit codes of <see cref="RunAsync"/>.</summary>
    public const int ExitOk = 0;
    public const int ExitUnauthorized = 3;

    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static string Version =>
        typeof(AgentService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>The bearer token of an agent that enrolled without a key (older agents); used as long as it exists.</summary>
    private string TokenPath => Path.Combine(options.StateDirectory, "agent.token");

    /// <summary>The agent's private key (PKCS#8 PEM, 0600): its credential. Never sent, never logged.</summary>
    private string KeyPath => Path.Combine(options.StateDirectory, "agent.key");

    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// The resource id the server enrolled this agent as (for a scale-set instance it carries the assigned instance id),
    /// kept beside the credential: the server maps the credential to that same machine, so a restart is the same instance.
    /// </summary>
    private string IdentityPath => Path.Combine(options.StateDirectory, "agent.identity");

    /// <summary>Pause before trying the next node after one failed: up to 200 ms, jittered.</summary>
    private readonly Backoff _nextNodePause = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(200));

    public async Task<int> RunAsync(CancellationToken shutdown)
    {
        Directory.CreateDirectory(options.StateDirectory, PrivateDirectory);
        File.SetUnixFileMode(options.StateDirectory, PrivateDirectory);
        try
        {
            if (await EnsureTokenAsync(shutdown) is { } failure)
            {
                return failure;
            }

            var executionsRoot = Path.Combine(options.StateDirectory, "executions");
            var store = new FileExecutionStateStore(executionsRoot);
            // Runners stop when polling stops for any reason (shutdown, or a revoked token): they must not keep
            // the agent alive waiting for long scripts or retrying reports that can no longer succeed.
            using var stopRunners = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
            var manager = new ExecutionManager(executionsRoot, store, client, new ExecutionSettings
            {
                MaxScriptBytes = options.MaxScriptBytes,
                StorageCredentials = options.StorageCredentials,
                ExecutionRetention = options.ExecutionRetention,
                ExecutionBudgetBytes = options.ExecutionBudgetBytes,
            }, time, logger, stopRunners.Token);
            client.Metrics.RunningExecutions = () => manager.ActiveExecutionIds.Count;
            manager.Recover();
            var result = await PollAsync(manager, shutdown);
            await stopRunners.CancelAsync();
            await manager.WhenAllAsync();
            if (shutdown.IsCancellationRequested)
            {
                await SignOffAsync();
            }

            return result;
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            Log.ShuttingDown(logger);
            await SignOffAsync();
            return ExitOk;
        }
    }

    /// <summary>Longest the agent waits, when stopping, for the server to take its sign-off.</summary>
    public static readonly TimeSpan SignOffTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Tells the server this agent is stopping (docs/agent-protocol.md, "Signing off"), so the machine shows Disconnected
    /// at once rather than when its presence window runs out. Best effort and short: a server that does not answer in
    /// <see cref="SignOffTimeout"/> leaves the window to do it. Nothing to say before the agent has a credential.
    /// </summary>
    private async Task SignOffAsync()
    {
        if (client.AgentKey is null && client.AgentToken is null)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(SignOffTimeout, time);
        try
        {
            await client.SignOffAsync(timeout.Token);
            Log.SignedOff(logger);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or AgentUnauthorizedException)
        {
            Log.SignOffFailed(logger, e.Message);
        }
    }

    /// <summary>
    /// Loads the saved credential (an older agent's token, or the key and the identity it enrolled as), or enrolls
    /// (retrying network errors) with a key made here. Returns an exit code on failure.
    /// </summary>
    private async Task<int?> EnsureTokenAsync(CancellationToken shutdown)
    {
        if (File.Exists(TokenPath))
        {
            client.AgentToken = (await File.ReadAllTextAsync(TokenPath, shutdown)).Trim();
            client.VersionToReport = Version;
            Log.UsingSavedToken(logger, TokenPath);
            return null;
        }

        ECDsa key;
        try
        {
            key = File.Exists(KeyPath) ? await LoadKeyAsync(shutdown) : CreateKey();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or CryptographicException)
        {
            Log.AgentKeyUnreadable(logger, KeyPath, e.Message);
            return 2;
        }

        if (File.Exists(IdentityPath))
        {
            // Enrolled before: the identity is written only once the server has bound this key to the machine.
            var identity = (await File.ReadAllTextAsync(IdentityPath, shutdown)).Trim();
            client.AgentKey = new AgentKeyCredential(key, identity, time);
            // Enrolled by an earlier agent process, perhaps an older version: the first poll says which runs now.
            client.VersionToReport = Version;
            Log.UsingSavedKey(logger, KeyPath, identity);
            return null;
        }

        string enrollmentToken;
        try
        {
            enrollmentToken = (await File.ReadAllTextAsync(options.EnrollTokenFile, shutdown)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            key.Dispose();
            Log.EnrollTokenUnreadable(logger, options.EnrollTokenFile, e.Message);
            return 2;
        }

        var request = new EnrollRequest
        {
            SubscriptionId = options.SubscriptionId,
            ResourceGroup = options.ResourceGroup,
            VmName = options.VmName,
            VmScaleSetName = options.VmScaleSetName,
            Tags = options.Tags.Count > 0 ? options.Tags : null,
            Location = options.Location,
            Hostname = Environment.MachineName,
            AgentVersion = Version,
            PublicKey = Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()),
        };
        var backoff = Backoff.Reconnect();
        var failures = new FailureKindFilter();
        while (true)
        {
            try
            {
                var response = await client.EnrollAsync(enrollmentToken, request, shutdown);
                if (response.AgentToken is { } agentToken)
                {
                    // A server that does not take keys issued a token: keep using it, as older agents do.
                    key.Dispose();
                    AtomicFile.Write(IdentityPath, Encoding.UTF8.GetBytes(response.VmResourceId + "\n"), PrivateFile, durable: true);
                    // Checkpoint: the token is on disk (0600, atomically) before it is used; dying before this line
                    // means enrolling again, which replaces the credential the server just issued.
                    AtomicFile.Write(TokenPath, Encoding.UTF8.GetBytes(agentToken), PrivateFile, durable: true);
                    client.AgentToken = agentToken;
                    Log.Enrolled(logger, response.VmResourceId, TokenPath);
                    return null;
                }

                // Checkpoint: the key was on disk before it was sent; the identity marks the enrollment as done.
                // Dying before this line means enrolling again with the same key.
                AtomicFile.Write(IdentityPath, Encoding.UTF8.GetBytes(response.VmResourceId + "\n"), PrivateFile, durable: true);
                client.AgentKey = new AgentKeyCredential(key, response.VmResourceId, time);
                Log.Enrolled(logger, response.VmResourceId, KeyPath);
                return null;
            }
            catch (AgentUnauthorizedException e)
            {
                key.Dispose();
                Log.EnrollmentRejected(logger, options.EnrollTokenFile, e.StatusCode);
                return ExitUnauthorized;
            }
            catch (HttpRequestException e) when (e.StatusCode is { } status && (int)status is >= 400 and < 500 and not 408 and not 429)
            {
                key.Dispose();
                Log.ServerRefused(logger, (int)status, "enrollment");
                return 1;
            }
            catch (Exception e) when (!shutdown.IsCancellationRequested)
            {
                await WaitAfterFailureAsync(e, backoff, failures, shutdown);
            }
        }
    }

    /// <summary>Makes the agent's key and saves it (0600, atomically, durably) before it is ever used.</summary>
    private ECDsa CreateKey()
    {
        var key = AgentAssertion.NewKey();
        var pem = Encoding.UTF8.GetBytes(key.ExportPkcs8PrivateKeyPem());
        try
        {
            AtomicFile.Write(KeyPath, pem, PrivateFile, durable: true);
        }
        catch
        {
            key.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pem);
        }

        return key;
    }

    private async Task<ECDsa> LoadKeyAsync(CancellationToken shutdown)
    {
        var pem = await File.ReadAllTextAsync(KeyPath, shutdown);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            if (key.KeySize != 256)
            {
                throw new CryptographicException("The key is not ECDSA P-256.");
            }

            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private async Task<int> PollAsync(ExecutionManager manager, CancellationToken shutdown)
    {
        long version = -1;
        var backoff = Backoff.Reconnect();
        var failures = new FailureKindFilter();
        var forgetPending = false;
        var refusedOnce = false;
        while (!shutdown.IsCancellationRequested)
        {
            try
            {
                // An execution still to forget (its run command deleted while it ran) is looked at again soon.
                var goalState = await client.GetGoalStateAsync(version, forgetPending ? ForgetRetryWait : client.LongPollWait, shutdown);
                if (failures.Reset())
                {
                    Log.ServerReachableAgain(logger);
                }

                backoff.Reset();
                refusedOnce = false;
                version = goalState.Version;
                // Reconcile at once and poll again; after an idle spell, only once the new executions' first reports
                // are answered (at most FirstReportsWait), so they go out on the connection this poll just freed.
                manager.Reconcile(goalState);
                forgetPending = !await ForgetAsync(manager, goalState.Forget ?? [], shutdown);
                await WaitForFirstReportsAsync(manager, shutdown);
            }
            catch (AgentUnauthorizedException e) when (!refusedOnce)
            {
                // A copy of a request, credential and all, is refused as a replay by a server that read the first one.
                // The agent's own HttpClient no longer sends copies (AgentClient gives every call a body), but something on
                // the way (a proxy) may. The next poll signs a new assertion; only a refusal of that one too means the
                // credential is gone (docs/agent-protocol.md, "Replay").
                refusedOnce = true;
                Log.PollRefusedOnce(logger, e.StatusCode);
            }
            catch (AgentUnauthorizedException)
            {
                Log.AgentTokenRejected(logger, client.AgentKey is null ? TokenPath : KeyPath);
                return ExitUnauthorized;
            }
            catch (Exception e) when (!shutdown.IsCancellationRequested)
            {
                await WaitAfterFailureAsync(e, backoff, failures, shutdown);
            }
        }

        Log.ShuttingDown(logger);
        return ExitOk;
    }

    /// <summary>
    /// Longest the next poll waits for the first reports of the executions a goal state started: a cancel sent in that
    /// time arrives this much later at most; a server slower than this to answer them gets the poll on a second connection.
    /// </summary>
    public static readonly TimeSpan FirstReportsWait = TimeSpan.FromSeconds(2);

    /// <summary><see cref="FirstReportsWait"/>, unless a test holds reports longer to tell the two rules apart.</summary>
    internal TimeSpan FirstReportsWaitFor { get; init; } = FirstReportsWait;

    private async Task WaitForFirstReportsAsync(ExecutionManager manager, CancellationToken shutdown)
    {
        if (client.SideConnectionWarm)
        {
            // Commands keep coming: the connection the last report used is still open, so the reports need no new one,
            // and polling at once has the poll held (its assertion recorded) before the next command arrives.
            return;
        }

        try
        {
            await manager.WhenFirstReportsSentAsync().WaitAsync(FirstReportsWaitFor, time, shutdown);
        }
        catch (TimeoutException)
        {
            // Poll anyway: the reports still on their way take a connection of their own.
        }
    }

    /// <summary>How soon the goal state is asked again while an execution the server named to forget still runs.</summary>
    private static readonly TimeSpan ForgetRetryWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Deletes the local files of executions whose run command was deleted and tells the server, which takes each off
    /// the list. Returns false when one is still running (it is forgotten at a later goal state).
    /// </summary>
    private async Task<bool> ForgetAsync(ExecutionManager manager, IReadOnlyList<string> executionIds, CancellationToken shutdown)
    {
        var all = true;
        foreach (var id in executionIds)
        {
            if (manager.Forget(id))
            {
                await client.AcknowledgeForgottenAsync(id, shutdown);
            }
            else
            {
                all = false;
            }
        }

        return all;
    }

    private async Task WaitAfterFailureAsync(Exception e, Backoff backoff, FailureKindFilter failures, CancellationToken shutdown)
    {
        // The client moved on to another node that has not failed yet: try it after a short jittered pause (no hot
        // loop, and not every agent of a dead node at once). Once every node failed in a row, or when the node is
        // there but refused (429 busy, an error), back off, honouring the Retry-After it named (plus jitter).
        var movedOn = AgentClient.IsNodeGone(e, shutdown) && client.Servers.UntriedNodeLeft;
        var delay = movedOn ? _nextNodePause.Next() : backoff.NextAfter(e);
        var kind = FailureKindFilter.KindOf(e);
        if (failures.ShouldLog(kind))
        {
            // e.Message of HttpClient errors names host and port, never the path's query or a token.
            Log.ServerUnreachable(logger, kind, e.Message, (long)delay.TotalMilliseconds);
        }

        await Task.Delay(delay, time, shutdown);
    }
}
