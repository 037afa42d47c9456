using RunCommand.Agent.Execution;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Tests;

/// <summary>Fails the first <c>failures</c> reports like an unreachable server, then passes them on.</summary>
internal sealed class FlakyReporter(IExecutionReporter inner, int failures) : IExecutionReporter
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public Task<ReportAck> ReportAsync(string executionId, ExecutionReport report, CancellationToken cancellationToken) =>
        Interlocked.Increment(ref _calls) <= failures
            ? throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (fake)")
            : inner.ReportAsync(executionId, report, cancellationToken);
}
