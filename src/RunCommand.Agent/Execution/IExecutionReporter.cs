using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Execution;

/// <summary>Where execution reports go: the server in production (Protocol/AgentClient), a fake in tests.</summary>
public interface IExecutionReporter
{
    /// <summary>
    /// Sends one report. Throws <see cref="ExecutionNotFoundException"/> when the server does not know the
    /// execution (404); any other exception is treated as transient and retried.
    /// </summary>
    Task<ReportAck> ReportAsync(string executionId, ExecutionReport report, CancellationToken cancellationToken);
}

/// <summary>The server answered 404 to a report: the execution is not this VM's (or no longer exists).</summary>
public sealed class ExecutionNotFoundException(string executionId)
    : Exception($"The server does not know execution {executionId}.");
