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

/// <summary>
/// A reporter that can also upload output raw (docs/agent-protocol.md, "Raw output uploads"): used once the server's
/// acknowledgement says it takes them (<see cref="ReportAck.RawOutput"/>).
/// </summary>
public interface IOutputUploader
{
    /// <summary>
    /// Sends <paramref name="length"/> bytes of the file at <paramref name="path"/> from <paramref name="offset"/> as
    /// output of <paramref name="stream"/> (<c>stdout</c> or <c>stderr</c>) from the same offset, streamed from the
    /// file. Returns the server's acknowledgement, also when it refused a gap (it says where to resume). Throws like
    /// <see cref="IExecutionReporter.ReportAsync"/>.
    /// </summary>
    Task<ReportAck> UploadOutputAsync(string executionId, string stream, string path, long offset, long length, CancellationToken cancellationToken);
}

/// <summary>The server answered 404 to a report: the execution is not this VM's (or no longer exists).</summary>
public sealed class ExecutionNotFoundException(string executionId)
    : Exception($"The server does not know execution {executionId}.");
