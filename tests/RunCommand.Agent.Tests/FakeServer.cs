using System.Collections.Concurrent;
using System.Text;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Tests;

/// <summary>An in-process stand-in for the server's report endpoint, with the same append-once semantics.</summary>
internal sealed class FakeServer : IExecutionReporter
{
    private readonly ConcurrentDictionary<string, Execution> _executions = new(StringComparer.Ordinal);

    public Execution this[string executionId] => _executions.GetOrAdd(executionId, _ => new Execution());

    public Task<ReportAck> ReportAsync(string executionId, ExecutionReport report, CancellationToken cancellationToken)
    {
        var execution = this[executionId];
        lock (execution)
        {
            Append(execution.Stdout, report.Stdout);
            Append(execution.Stderr, report.Stderr);
            execution.Reports.Add(report);
            if (LocalState.IsTerminal(report.State))
            {
                execution.Terminal.TrySetResult(report);
            }

            return Task.FromResult(new ReportAck
            {
                StdoutLength = execution.Stdout.Length,
                StderrLength = execution.Stderr.Length,
                Cancel = execution.Cancel,
                Finished = execution.Terminal.Task.IsCompleted,
            });
        }
    }

    private static void Append(MemoryStream held, OutputChunk? chunk)
    {
        if (chunk is null || chunk.Offset > held.Length)
        {
            return;
        }

        var skip = (int)(held.Length - chunk.Offset);
        if (skip < chunk.Data.Length)
        {
            held.Position = held.Length;
            held.Write(chunk.Data, skip, chunk.Data.Length - skip);
        }
    }

    internal sealed class Execution
    {
        public MemoryStream Stdout { get; } = new();

        public MemoryStream Stderr { get; } = new();

        public List<ExecutionReport> Reports { get; } = [];

        public TaskCompletionSource<ExecutionReport> Terminal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Cancel { get; set; }

        public string StdoutText
        {
            get
            {
                lock (this)
                {
                    return Encoding.UTF8.GetString(Stdout.ToArray());
                }
            }
        }

        public string StderrText
        {
            get
            {
                lock (this)
                {
                    return Encoding.UTF8.GetString(Stderr.ToArray());
                }
            }
        }

        public ExecutionReport[] ReportsSnapshot
        {
            get
            {
                lock (this)
                {
                    return [.. Reports];
                }
            }
        }

        public Task<ExecutionReport> WaitForTerminalAsync() => Terminal.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
