using System.Reflection;
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

    private string TokenPath => Path.Combine(options.StateDirectory, "agent.token");

    /// <summary>
    /// The resource id the server enrolled this agent as (for a scale-set instance it carries the assigned instance id),
    /// kept beside the credential: the server maps the credential to that same machine, so a restart is the same instance.
    /// </summary>
    private string IdentityPath => Path.Combine(options.StateDirectory, "agent.identity");

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
            var manager = new ExecutionManager(executionsRoot, store, client, new ExecutionSettings { MaxScriptBytes = options.MaxScriptBytes }, time, logger, stopRunners.Token);
            manager.Recover();
            var result = await PollAsync(manager, shutdown);
            await stopRunners.CancelAsync();
            await manager.WhenAllAsync();
            return result;
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            Log.ShuttingDown(logger);
            return ExitOk;
        }
    }

    /// <summary>Loads the saved agent token, or enrolls (retrying network errors) and saves it. Returns an exit code on failure.</summary>
    private async Task<int?> EnsureTokenAsync(CancellationToken shutdown)
    {
        if (File.Exists(TokenPath))
        {
            client.AgentToken = (await File.ReadAllTextAsync(TokenPath, shutdown)).Trim();
            Log.UsingSavedToken(logger, TokenPath);
            return null;
        }

        string enrollmentToken;
        try
        {
            enrollmentToken = (await File.ReadAllTextAsync(options.EnrollTokenFile, shutdown)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
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
        };
        var backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(60));
        var failures = new FailureKindFilter();
        while (true)
        {
            try
            {
                var response = await client.EnrollAsync(enrollmentToken, request, shutdown);
                AtomicFile.Write(IdentityPath, Encoding.UTF8.GetBytes(response.VmResourceId + "\n"), UnixFileMode.UserRead | UnixFileMode.UserWrite, durable: true);
                // Checkpoint: the token is on disk (0600, atomically) before it is used; dying before this line
                // means enrolling again, which replaces the credential the server just issued.
                AtomicFile.Write(TokenPath, Encoding.UTF8.GetBytes(response.AgentToken), UnixFileMode.UserRead | UnixFileMode.UserWrite, durable: true);
                client.AgentToken = response.AgentToken;
                Log.Enrolled(logger, response.VmResourceId, TokenPath);
                return null;
            }
            catch (AgentUnauthorizedException e)
            {
                Log.EnrollmentRejected(logger, options.EnrollTokenFile, e.StatusCode);
                return ExitUnauthorized;
            }
            catch (HttpRequestException e) when (e.StatusCode is { } status && (int)status is >= 400 and < 500 and not 408 and not 429)
            {
                Log.ServerRefused(logger, (int)status, "enrollment");
                return 1;
            }
            catch (Exception e) when (!shutdown.IsCancellationRequested)
            {
                await WaitAfterFailureAsync(e, backoff, failures, shutdown);
            }
        }
    }

    private async Task<int> PollAsync(ExecutionManager manager, CancellationToken shutdown)
    {
        long version = -1;
        var backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(60));
        var failures = new FailureKindFilter();
        while (!shutdown.IsCancellationRequested)
        {
            try
            {
                var goalState = await client.GetGoalStateAsync(version, AgentClient.LongPollWait, shutdown);
                if (failures.Reset())
                {
                    Log.ServerReachableAgain(logger);
                }

                backoff.Reset();
                version = goalState.Version;
                // Reconcile at once and poll again at once: the server's long poll is the only wait.
                manager.Reconcile(goalState);
            }
            catch (AgentUnauthorizedException)
            {
                Log.AgentTokenRejected(logger, TokenPath);
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

    private async Task WaitAfterFailureAsync(Exception e, Backoff backoff, FailureKindFilter failures, CancellationToken shutdown)
    {
        var delay = backoff.Next();
        var kind = FailureKindFilter.KindOf(e);
        if (failures.ShouldLog(kind))
        {
            // e.Message of HttpClient errors names host and port, never the path's query or a token.
            Log.ServerUnreachable(logger, kind, e.Message, (long)delay.TotalMilliseconds);
        }

        await Task.Delay(delay, time, shutdown);
    }
}
