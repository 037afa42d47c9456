using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RunCommand.Agent;
using RunCommand.Agent.Protocol;
using RunCommand.Contracts.Agents;
using RunCommand.Contracts.Arm;

namespace RunCommand.Bench.Swarm;

/// <summary>
/// One simulated machine: the real agent's protocol client (<see cref="AgentClient"/>: its own HTTP(S) connection,
/// enrollment with its own ECDSA key, signed assertions, long polls as long as the server announces, the agent's jittered back-off) with the
/// execution replaced by a timer. Each new assignment is reported Running, then, after
/// <see cref="SwarmOptions.CommandDuration"/>, Succeeded with exit code 0 and <see cref="SwarmOptions.Stdout"/> as
/// output. It measures the control plane: no process is started, no file is written.
/// </summary>
public sealed class SimulatedAgent : IDisposable
{
    private readonly SwarmOptions _options;
    private readonly AgentClient _client;
    private readonly string _name;
    private readonly SwarmCounters _counters;
    private readonly ConcurrentDictionary<string, byte> _handled = new(StringComparer.Ordinal);

    public SimulatedAgent(SwarmOptions options, X509Certificate2? caCertificate, string name, SwarmCounters counters)
    {
        _options = options;
        _name = name;
        _counters = counters;
        _client = new AgentClient(options.Server, caCertificate);
    }

    /// <summary>The goal-state wait this agent asks for: the long poll its server announced.</summary>
    public TimeSpan LongPollWait => _client.LongPollWait;

    /// <summary>Executions this machine reported as Succeeded (each exactly once unless the server asked again).</summary>
    public int Completed;

    /// <summary>True while a long poll of this agent is held by the server (or being answered).</summary>
    public bool Polling { get; private set; }

    /// <summary>Enrolls with a new key; retries connection failures and timeouts with the agent's back-off, as the agent does.</summary>
    public async Task EnrollAsync(string enrollmentToken, CancellationToken cancellationToken)
    {
        var key = AgentAssertion.NewKey();
        var request = new EnrollRequest
        {
            ResourceGroup = _options.ResourceGroup,
            VmName = _name,
            Tags = _options.Tags,
            Hostname = _name,
            AgentVersion = "swarm",
            PublicKey = Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()),
        };
        var backoff = Backoff.Reconnect();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var response = await _client.EnrollAsync(enrollmentToken, request, cancellationToken);
                _client.AgentKey = new AgentKeyCredential(key, response.VmResourceId, TimeProvider.System);
                return;
            }
            catch (Exception e) when (attempt < 10 && !cancellationToken.IsCancellationRequested
                && e is TaskCanceledException or HttpRequestException { StatusCode: null or >= System.Net.HttpStatusCode.InternalServerError })
            {
                _counters.Failure(e);
                await Task.Delay(backoff.NextAfter(e), cancellationToken);
            }
        }
    }

    /// <summary>The agent's poll loop (as <c>AgentService</c>): poll, hand out work, poll again; back off on failure.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        long version = -1;
        var backoff = Backoff.Reconnect();
        var failing = false;
        var refusedOnce = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                Polling = true;
                var goal = await _client.GetGoalStateAsync(version, _client.LongPollWait, stop);
                _counters.PollAnswered();
                if (failing)
                {
                    failing = false;
                    _counters.Reconnected(this);
                }

                backoff.Reset();
                refusedOnce = false;
                version = goal.Version;
                List<Task>? firstReports = null;
                foreach (var assignment in goal.Executions)
                {
                    if (_handled.TryAdd(assignment.ExecutionId, 0))
                    {
                        var firstReport = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        _ = ExecuteAsync(assignment, firstReport, stop);
                        (firstReports ??= []).Add(firstReport.Task);
                    }
                }

                // As the agent does (AgentService): after an idle spell the next poll waits for the new executions'
                // first reports, which take the connection this poll freed.
                if (firstReports is not null && !_client.SideConnectionWarm)
                {
                    try
                    {
                        await Task.WhenAll(firstReports).WaitAsync(AgentService.FirstReportsWait, stop);
                    }
                    catch (TimeoutException)
                    {
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (AgentUnauthorizedException e) when (!refusedOnce)
            {
                // As the agent does (AgentService): one refusal is polled again at once with a new assertion (a request
                // sent twice on the way is refused as a replay).
                refusedOnce = true;
                _counters.Failure(e);
            }
            catch (Exception e)
            {
                Polling = false;
                if (!failing)
                {
                    failing = true;
                    _counters.Disconnected(e);
                }

                _counters.Failure(e);
                // The next poll carries the version this agent knew, as the agent's does (AgentService): a server that
                // has nothing new for it holds that poll at once, one request per reconnection. The restart figure
                // counts those held polls on the server (its runcmd_agents_connected gauge).
                try
                {
                    await Task.Delay(backoff.NextAfter(e), stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        Polling = false;
    }

    /// <summary>Reports the assignment's outcome; <paramref name="firstReport"/> completes once its first report was answered (or failed).</summary>
    private async Task ExecuteAsync(ExecutionAssignment assignment, TaskCompletionSource firstReport, CancellationToken stop)
    {
        var started = DateTimeOffset.UtcNow;
        try
        {
            if (assignment.Cancel)
            {
                await ReportAsync(assignment.ExecutionId, new ExecutionReport { State = ExecutionStates.Canceled, StartTime = started, EndTime = DateTimeOffset.UtcNow }, stop);
                return;
            }

            if (_options.CommandDuration > TimeSpan.Zero)
            {
                await ReportAsync(assignment.ExecutionId, new ExecutionReport { State = ExecutionStates.Running, StartTime = started }, stop);
                firstReport.TrySetResult();
                await Task.Delay(_options.CommandDuration, stop);
            }

            var output = Encoding.UTF8.GetBytes(_options.Stdout);
            await ReportAsync(assignment.ExecutionId, new ExecutionReport
            {
                State = ExecutionStates.Succeeded,
                ExitCode = 0,
                StartTime = started,
                EndTime = DateTimeOffset.UtcNow,
                Stdout = output.Length == 0 ? null : new OutputChunk { Offset = assignment.StdoutLength, Data = output[(int)Math.Min(assignment.StdoutLength, output.Length)..] },
            }, stop);
            Interlocked.Increment(ref Completed);
            _counters.Completed();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The next goal state still lists the execution; let it be picked up again.
            _counters.Failure(e);
            _handled.TryRemove(assignment.ExecutionId, out _);
        }
        finally
        {
            firstReport.TrySetResult();
        }
    }

    private async Task ReportAsync(string executionId, ExecutionReport report, CancellationToken stop)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10));
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await _client.ReportAsync(executionId, report, stop);
                return;
            }
            catch (HttpRequestException e) when (attempt < 20 && !stop.IsCancellationRequested)
            {
                _counters.Failure(e);
                await Task.Delay(backoff.NextAfter(e), stop);
            }
        }
    }

    public void Dispose() => _client.Dispose();
}
